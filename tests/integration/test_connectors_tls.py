"""Connectors over TLS and mTLS against fakes served with trustme certificates."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from soar.connectors import Responders
from soar.errors import ConnectorUnavailable
from soar.response.models import ActionKind, ActionOutcome, ActionSpec, Entity, EntityKind, idempotency_key
from soar.testing import FakeKeycloak, FakeKubernetes, connector_settings


@dataclass
class Pki:
    ca: trustme.CA
    ca_file: Path
    client_cert: Path
    client_key: Path


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = trustme.CA()
    client = ca.issue_cert("soar-responder@bank.example")
    paths = Pki(ca, tmp_path / "ca.pem", tmp_path / "client.pem", tmp_path / "client.key")
    ca.cert_pem.write_to_path(str(paths.ca_file))
    client.cert_chain_pems[0].write_to_path(str(paths.client_cert))
    client.private_key_pem.write_to_path(str(paths.client_key))
    return paths


def _server_context(pki: Pki, *, require_client_cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    pki.ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    if require_client_cert:
        pki.ca.configure_trust(ctx)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


@pytest.fixture
def tls_keycloak(pki: Pki) -> Iterator[FakeKeycloak]:
    with FakeKeycloak(ssl_context=_server_context(pki, require_client_cert=False)) as fake:
        fake.add_user("alice")
        yield fake


@pytest.fixture
def mtls_kubernetes(pki: Pki) -> Iterator[FakeKubernetes]:
    # No bearer token: the API server authenticates soar by its client certificate.
    with FakeKubernetes(token=None, ssl_context=_server_context(pki, require_client_cert=True)) as fake:
        yield fake


def _spec(kind: ActionKind, entity: EntityKind, value: str, system: str | None = None) -> ActionSpec:
    target = Entity(kind=entity, value=value, system=system)
    key = idempotency_key("INC-TLS", kind, target)
    return ActionSpec(
        incident_id="INC-TLS", kind=kind, target=target, key=key, reason="r", requested_by="soar"
    )


async def test_keycloak_over_tls_with_a_ca_bundle(
    pki: Pki, tls_keycloak: FakeKeycloak, tmp_path: Path
) -> None:
    assert tls_keycloak.url.startswith("https://")
    settings = connector_settings(keycloak=tls_keycloak, ca_certs=pki.ca_file)
    async with Responders(settings, tmp_path) as responders:
        result = await responders.apply(_spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak"))
    assert result.outcome is ActionOutcome.APPLIED
    assert tls_keycloak.user("alice")["enabled"] is False


async def test_untrusted_certificate_is_refused_before_any_request(
    tls_keycloak: FakeKeycloak, tmp_path: Path
) -> None:
    async with Responders(connector_settings(keycloak=tls_keycloak), tmp_path) as responders:
        with pytest.raises(ConnectorUnavailable, match=r"not reachable.*CERTIFICATE_VERIFY_FAILED"):
            await responders.apply(_spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak"))
    assert tls_keycloak.requests == []


async def test_kubernetes_with_a_client_certificate(
    pki: Pki, mtls_kubernetes: FakeKubernetes, tmp_path: Path
) -> None:
    settings = connector_settings(
        kubernetes=mtls_kubernetes,
        ca_certs=pki.ca_file,
        client_cert=pki.client_cert,
        client_key=pki.client_key,
    )
    action = _spec(ActionKind.BLOCK_ADDRESS, EntityKind.ADDRESS, "198.51.100.7")
    async with Responders(settings, tmp_path) as responders:
        assert (await responders.apply(action)).outcome is ActionOutcome.APPLIED
    assert mtls_kubernetes.names("authorizationpolicies") == [f"istio-system/soar-block-{action.key[:12]}"]
    assert "authorization" not in mtls_kubernetes.requests[0].headers


async def test_kubernetes_without_the_client_certificate_is_refused(
    pki: Pki, mtls_kubernetes: FakeKubernetes, tmp_path: Path
) -> None:
    settings = connector_settings(kubernetes=mtls_kubernetes, ca_certs=pki.ca_file)
    async with Responders(settings, tmp_path) as responders:
        with pytest.raises(ConnectorUnavailable, match=r"kubernetes: POST .*: not reachable"):
            await responders.apply(_spec(ActionKind.BLOCK_ADDRESS, EntityKind.ADDRESS, "198.51.100.7"))
    assert mtls_kubernetes.requests == []
