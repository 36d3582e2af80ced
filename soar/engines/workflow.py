"""The one factory for Temporal clients: TLS/mTLS, API key, namespace, pydantic data converter."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, TLSConfig
from temporalio.worker import UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from soar.config import TemporalSettings
from soar.errors import ConfigError, EngineUnavailable


def _read(path: Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"temporal.{what}: cannot read {path}: {exc.strerror}") from None


def tls_config(settings: TemporalSettings) -> TLSConfig | bool:
    """The TLS settings for the client: False for plaintext, True for system roots, or a full config."""
    uses_files = any(p is not None for p in (settings.ca_cert, settings.client_cert, settings.client_key))
    if not settings.tls and not uses_files:
        # Temporal Cloud with an API key needs TLS even when no file is given.
        return settings.api_key is not None
    if (settings.client_cert is None) != (settings.client_key is None):
        raise ConfigError("temporal.client_cert and temporal.client_key must be given together (mTLS)")
    return TLSConfig(
        server_root_ca_cert=_read(settings.ca_cert, "ca_cert"),
        client_cert=_read(settings.client_cert, "client_cert"),
        client_private_key=_read(settings.client_key, "client_key"),
        domain=settings.server_name,
    )


async def connect_temporal(settings: TemporalSettings, address: str | None = None) -> Client:
    """Connect to the configured Temporal (or ``address``, e.g. the embedded dev server).

    Raises:
        ConfigError: no address is known, or TLS files cannot be read.
        EngineUnavailable: Temporal did not accept the connection.
    """
    target = address or settings.address
    if not target:
        raise ConfigError("temporal.address: no Temporal configured and none running")
    try:
        return await Client.connect(
            target,
            namespace=settings.namespace,
            tls=tls_config(settings),
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            data_converter=pydantic_data_converter,
        )
    except (RPCError, RuntimeError, OSError) as exc:
        # The SDK's message can echo request metadata; keep only the kind of failure and the target.
        raise EngineUnavailable(f"temporal at {target} is not reachable: {type(exc).__name__}") from None


def workflow_runner(settings: TemporalSettings) -> WorkflowRunner:
    """How a worker runs workflows: in Temporal's sandbox when settings ask for it, directly otherwise."""
    return SandboxedWorkflowRunner() if settings.sandbox else UnsandboxedWorkflowRunner()
