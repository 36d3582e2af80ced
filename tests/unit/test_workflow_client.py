from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from temporalio.service import TLSConfig
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from soar.config import TemporalSettings
from soar.engines.workflow import connect_temporal, tls_config, workflow_runner
from soar.errors import ConfigError


def test_plaintext_by_default_and_tls_for_api_key() -> None:
    assert tls_config(TemporalSettings(address="localhost:7233")) is False
    # Temporal Cloud with an API key: TLS with the system roots.
    assert tls_config(TemporalSettings(address="ns.acct.tmprl.cloud:7233", api_key="k")) is True


def test_workers_run_playbooks_unsandboxed_unless_the_sandbox_is_asked_for() -> None:
    assert isinstance(workflow_runner(TemporalSettings()), UnsandboxedWorkflowRunner)
    assert isinstance(workflow_runner(TemporalSettings(sandbox=True)), SandboxedWorkflowRunner)


def test_mtls_files_are_read(tmp_path: Path) -> None:
    ca = trustme.CA()
    client = ca.issue_cert("soar-worker@bank.example")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    client.cert_chain_pems[0].write_to_path(str(tmp_path / "c.pem"))
    client.private_key_pem.write_to_path(str(tmp_path / "c.key"))
    cfg = tls_config(
        TemporalSettings(
            address="t:7233",
            ca_cert=tmp_path / "ca.pem",
            client_cert=tmp_path / "c.pem",
            client_key=tmp_path / "c.key",
            server_name="temporal.bank.internal",
        )
    )
    assert isinstance(cfg, TLSConfig)
    assert cfg.server_root_ca_cert == ca.cert_pem.bytes()
    assert cfg.client_private_key == client.private_key_pem.bytes()
    assert cfg.domain == "temporal.bank.internal"


def test_half_an_mtls_pair_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("x")
    with pytest.raises(ConfigError, match="together"):
        tls_config(TemporalSettings(address="t:7233", client_cert=tmp_path / "c.pem"))


def test_unreadable_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"temporal\.ca_cert"):
        tls_config(TemporalSettings(address="t:7233", tls=True, ca_cert=tmp_path / "missing.pem"))


async def test_no_address_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"temporal\.address"):
        await connect_temporal(TemporalSettings())
