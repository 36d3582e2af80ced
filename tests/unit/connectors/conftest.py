"""Fixtures of the connector tests: running fakes, an action builder, Responders pointing at the fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from soar.connectors import Responders
from soar.response.models import ActionKind, ActionSpec, Entity, EntityKind, idempotency_key
from soar.testing import FakeKeycloak, FakeKubernetes, FakeOkta, FakeWebhook, connector_settings

SpecFactory = Callable[..., ActionSpec]


def make_spec(
    kind: ActionKind, entity: EntityKind, value: str, system: str | None = None, incident: str = "INC-1"
) -> ActionSpec:
    target = Entity(kind=entity, value=value, system=system)
    return ActionSpec(
        incident_id=incident,
        kind=kind,
        target=target,
        key=idempotency_key(incident, kind, target),
        reason="credential stuffing from 198.51.100.7",
        requested_by="soar",
    )


@pytest.fixture
def spec() -> SpecFactory:
    return make_spec


@pytest.fixture
def keycloak() -> Iterator[FakeKeycloak]:
    with FakeKeycloak(client_secret="kc-very-secret-1") as fake:
        fake.add_user(
            "alice", email="alice@bank.example", sessions=2, groups=["/payments/operators"], otp=True
        )
        fake.add_user("mallory", enabled=False)
        fake.add_client("tpp-fintech")
        yield fake


@pytest.fixture
def okta() -> Iterator[FakeOkta]:
    with FakeOkta(api_token="okta-very-secret-2") as fake:
        fake.add_user(
            "bob@bank.example", factors=["token:software:totp"], sessions=1, groups=["Everyone", "Tellers"]
        )
        fake.add_user("carol@bank.example", status="SUSPENDED")
        fake.add_user("dave@bank.example", status="LOCKED_OUT")
        fake.add_app("Fintech TPP")
        yield fake


@pytest.fixture
def kubernetes() -> Iterator[FakeKubernetes]:
    with FakeKubernetes(token="k8s-very-secret-3") as fake:
        fake.add_pod("payments/api-7d9f-x2", labels={"app": "api", "tier": "backend"})
        yield fake


@pytest.fixture
def webhook() -> Iterator[FakeWebhook]:
    with FakeWebhook(secret="hook-very-secret-4") as fake:
        yield fake


@pytest.fixture
async def responders(
    keycloak: FakeKeycloak, okta: FakeOkta, kubernetes: FakeKubernetes, webhook: FakeWebhook, tmp_path: Path
) -> AsyncIterator[Responders]:
    settings = connector_settings(keycloak=keycloak, okta=okta, kubernetes=kubernetes, webhook=webhook)
    async with Responders(settings, tmp_path / "dry-run") as found:
        yield found
