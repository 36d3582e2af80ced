"""Helpers for tests of playbooks: connector settings for running fakes, fakes in their own process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import httpx

from soar.response.settings import ConnectorSettings, TlsOptions
from soar.testing.keycloak import FakeKeycloak
from soar.testing.kubernetes import FakeKubernetes
from soar.testing.okta import FakeOkta
from soar.testing.server import FakeServer
from soar.testing.webhook import FakeWebhook

FAKES: dict[str, type[FakeServer]] = {
    "keycloak": FakeKeycloak,
    "okta": FakeOkta,
    "kubernetes": FakeKubernetes,
    "webhook": FakeWebhook,
}


class Running(Protocol):
    """A fake a client can reach: in this process or another."""

    @property
    def kind(self) -> str:
        """Which fake: keycloak, okta, kubernetes or webhook."""
        ...

    @property
    def url(self) -> str:
        """Its base URL."""
        ...

    @property
    def config(self) -> dict[str, Any]:
        """Its realm and credentials."""
        ...


def fake_settings(fake: Running, **tls: Any) -> TlsOptions:
    """The settings block of one system pointing at ``fake`` (``tls``: ca_certs, client_cert, ...)."""
    return FAKES[fake.kind].settings_from(fake.url, fake.config, **tls)


def connector_settings(
    *,
    keycloak: Running | None = None,
    okta: Running | None = None,
    kubernetes: Running | None = None,
    webhook: Running | None = None,
    dry_run: bool = False,
    timeout: float = 5.0,
    **tls: Any,
) -> ConnectorSettings:
    """:class:`ConnectorSettings` pointing at running fakes (any left out is not configured).

    Example:
        ``with FakeKeycloak() as kc: Responders(connector_settings(keycloak=kc), tmp_path)``
    """
    kc = FakeKeycloak.settings_from(keycloak.url, keycloak.config, **tls) if keycloak else None
    ok = FakeOkta.settings_from(okta.url, okta.config, **tls) if okta else None
    k8s = FakeKubernetes.settings_from(kubernetes.url, kubernetes.config, **tls) if kubernetes else None
    hook = FakeWebhook.settings_from(webhook.url, webhook.config, **tls) if webhook else None
    return ConnectorSettings(
        dry_run=dry_run, keycloak=kc, okta=ok, kubernetes=k8s, webhook=hook, timeout=timeout
    )


async def read_mutations(url: str, *, verify: Any = True) -> Counter[tuple[str, str]]:
    """The mutation counters of a fake at ``url`` (another process), read over ``GET /_fake/mutations``."""
    async with httpx.AsyncClient(verify=verify, timeout=10) as client:
        response = await client.get(f"{url.rstrip('/')}/_fake/mutations")
        response.raise_for_status()
    return Counter({(r["operation"], r["target"]): int(r["count"]) for r in response.json()["mutations"]})


@dataclass
class FakeProcess:
    """A fake served by ``python -m soar.testing serve`` in a child process (survives a killed worker)."""

    kind: str
    url: str
    config: dict[str, Any]
    process: subprocess.Popen[bytes] = field(repr=False)

    async def mutations(self) -> Counter[tuple[str, str]]:
        """Its mutation counters."""
        return await read_mutations(self.url)

    def stop(self) -> None:
        """Terminate the process and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def spawn(kind: str, seed: Path | None = None, *, port: int = 0) -> FakeProcess:
    """Start a fake in a child process and wait until it serves; stop it with ``stop()`` or ``with``."""
    if kind not in FAKES:
        raise ValueError(f"unknown fake {kind!r}: one of {', '.join(FAKES)}")
    args = [sys.executable, "-m", "soar.testing", "serve", kind, "--port", str(port)]
    if seed is not None:
        args += ["--seed", str(seed)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None  # PIPE was asked for
    line = process.stdout.readline()
    if not line:
        process.wait()
        process.stdout.close()
        raise RuntimeError(f"fake {kind} did not start (exit status {process.returncode})")
    ready = json.loads(line)
    return FakeProcess(kind, ready["url"], ready["config"], process)
