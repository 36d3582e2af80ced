"""Responders: which system serves an action, refusals of misfit targets, dry-run files for every action."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from soar.connectors import Responders
from soar.errors import ConnectorError, ConnectorUnavailable
from soar.response.models import (
    ActionKind,
    ActionOutcome,
    Entity,
    EntityKind,
    Notification,
    NotificationKind,
)
from soar.response.settings import ConnectorSettings, OktaSettings
from soar.testing import FakeKeycloak, FakeKubernetes, FakeOkta, FakeWebhook, connector_settings

from .conftest import SpecFactory, make_spec

EVERY_ACTION = [
    (ActionKind.REVOKE_SESSIONS, EntityKind.USER, "alice", "keycloak"),
    (ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak"),
    (ActionKind.DISABLE_CLIENT, EntityKind.CLIENT, "tpp-fintech", "keycloak"),
    (ActionKind.REVOKE_SESSIONS, EntityKind.USER, "bob@bank.example", "okta"),
    (ActionKind.DISABLE_USER, EntityKind.USER, "bob@bank.example", "okta"),
    (ActionKind.DISABLE_CLIENT, EntityKind.CLIENT, "Fintech TPP", "okta"),
    (ActionKind.DENY_PRINCIPAL, EntityKind.PRINCIPAL, "spiffe://cluster.local/ns/payments/sa/api", "mesh"),
    (ActionKind.QUARANTINE_WORKLOAD, EntityKind.WORKLOAD, "payments/api-7d9f-x2", "kubernetes"),
    (ActionKind.BLOCK_ADDRESS, EntityKind.ADDRESS, "198.51.100.7", None),
]


def _read(path: str | None) -> str:
    assert path is not None
    return Path(path).read_text()


SECRETS = ("kc-very-secret-1", "okta-very-secret-2", "k8s-very-secret-3", "hook-very-secret-4")


@pytest.mark.parametrize(("kind", "entity", "value", "system"), EVERY_ACTION)
async def test_dry_run_writes_every_action_and_sends_nothing(
    keycloak: FakeKeycloak,
    okta: FakeOkta,
    kubernetes: FakeKubernetes,
    webhook: FakeWebhook,
    tmp_path: Path,
    kind: ActionKind,
    entity: EntityKind,
    value: str,
    system: str | None,
) -> None:
    settings = connector_settings(
        keycloak=keycloak, okta=okta, kubernetes=kubernetes, webhook=webhook, dry_run=True
    )
    action = make_spec(kind, entity, value, system)
    async with Responders(settings, tmp_path) as responders:
        applied = await responders.apply(action)
        reverted = await responders.revert(action, applied)
    for result, phase in ((applied, "apply"), (reverted, "revert")):
        assert result.outcome is ActionOutcome.DRY_RUN
        assert result.dry_run_file == str(tmp_path / f"{action.key}-{phase}.json")
        text = _read(result.dry_run_file)
        assert not any(secret in text for secret in SECRETS)
        document = json.loads(text)
        assert (document["phase"], document["action"], document["key"]) == (phase, kind, action.key)
        assert "dry_run is set" in document["note"]
        for request in document["requests"]:
            assert request["url"].startswith("http://127.0.0.1:")
    assert applied.requests, "an apply always plans at least one request"
    for fake in (keycloak, okta, kubernetes, webhook):
        assert fake.requests == []


async def test_unconfigured_system_is_dry_run_while_others_act(
    kubernetes: FakeKubernetes, spec: SpecFactory, tmp_path: Path
) -> None:
    async with Responders(connector_settings(kubernetes=kubernetes), tmp_path) as responders:
        user = await responders.apply(spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "okta"))
        blocked = await responders.apply(spec(ActionKind.BLOCK_ADDRESS, EntityKind.ADDRESS, "198.51.100.7"))
    assert user.outcome is ActionOutcome.DRY_RUN
    assert user.system == "okta"
    document = json.loads(_read(user.dry_run_file))
    assert document["note"].startswith("okta is not configured")
    assert [r["url"] for r in document["requests"]] == [
        "{okta.url}/api/v1/users/alice",
        "{okta.url}/api/v1/users/{id of alice}/lifecycle/suspend",
    ]
    assert document["requests"][1]["headers"] == {"Authorization": "<redacted>"}
    assert blocked.outcome is ActionOutcome.APPLIED


async def test_kubernetes_dry_run_holds_the_exact_manifest(spec: SpecFactory, tmp_path: Path) -> None:
    action = spec(ActionKind.BLOCK_ADDRESS, EntityKind.ADDRESS, "198.51.100.7")
    async with Responders(ConnectorSettings(), tmp_path) as responders:
        result = await responders.apply(action)
    request = json.loads(_read(result.dry_run_file))["requests"][0]
    assert request["method"] == "POST"
    assert (
        request["url"]
        == "{kubernetes.url}/apis/security.istio.io/v1/namespaces/istio-system/authorizationpolicies"
    )
    manifest = request["body"]
    assert manifest["kind"] == "AuthorizationPolicy"
    assert manifest["metadata"]["name"] == f"soar-block-{action.key[:12]}"
    assert manifest["spec"]["rules"] == [{"from": [{"source": {"remoteIpBlocks": ["198.51.100.7/32"]}}]}]


async def test_revert_of_a_dry_run_is_a_dry_run_even_when_configured(
    responders: Responders, keycloak: FakeKeycloak, spec: SpecFactory, tmp_path: Path
) -> None:
    action = spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak")
    async with Responders(ConnectorSettings(dry_run=True), tmp_path) as dry:
        applied = await dry.apply(action)
    reverted = await responders.revert(action, applied)
    assert reverted.outcome is ActionOutcome.DRY_RUN
    assert keycloak.requests == []


@pytest.mark.parametrize(
    ("kind", "entity", "value"),
    [
        (ActionKind.DISABLE_USER, EntityKind.ADDRESS, "198.51.100.7"),
        (ActionKind.BLOCK_ADDRESS, EntityKind.USER, "alice"),
        (ActionKind.QUARANTINE_WORKLOAD, EntityKind.SERVICE, "payments"),
    ],
)
async def test_action_that_does_not_fit_its_target_is_refused(
    responders: Responders, kind: ActionKind, entity: EntityKind, value: str
) -> None:
    with pytest.raises(ConnectorError, match=f"{kind} cannot target {entity}") as caught:
        await responders.apply(make_spec(kind, entity, value))
    assert not isinstance(caught.value, ConnectorUnavailable)


async def test_revert_with_another_actions_result_is_refused(
    responders: Responders, spec: SpecFactory
) -> None:
    first = spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak")
    other = spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak", incident="INC-9")
    applied = await responders.apply(first)
    with pytest.raises(ConnectorError, match="the result is of"):
        await responders.revert(other, applied)


async def test_which_identity_provider(responders: Responders, tmp_path: Path, okta: FakeOkta) -> None:
    assert responders.system_for(Entity(kind=EntityKind.USER, value="a", system="Okta")) == "okta"
    assert responders.system_for(Entity(kind=EntityKind.WORKLOAD, value="a/b", system="mesh")) == "kubernetes"
    with pytest.raises(ConnectorError, match="no connector for system 'azuread'"):
        responders.system_for(Entity(kind=EntityKind.USER, value="a", system="azuread"))
    with pytest.raises(ConnectorError, match="no system named and both keycloak and okta set"):
        responders.system_for(Entity(kind=EntityKind.USER, value="a"))
    async with Responders(connector_settings(okta=okta), tmp_path) as only_okta:
        assert only_okta.system_for(Entity(kind=EntityKind.USER, value="a")) == "okta"
    async with Responders(ConnectorSettings(), tmp_path) as none:
        assert none.system_for(Entity(kind=EntityKind.CLIENT, value="a")) == "keycloak"


async def test_identity_is_none_for_other_entities_and_unset_providers(
    responders: Responders, tmp_path: Path
) -> None:
    assert await responders.identity(Entity(kind=EntityKind.ADDRESS, value="198.51.100.7")) is None
    async with Responders(ConnectorSettings(), tmp_path) as none:
        assert await none.identity(Entity(kind=EntityKind.USER, value="alice", system="keycloak")) is None


async def test_identity_still_reads_in_dry_run(keycloak: FakeKeycloak, tmp_path: Path) -> None:
    async with Responders(connector_settings(keycloak=keycloak, dry_run=True), tmp_path) as responders:
        found = await responders.identity(Entity(kind=EntityKind.USER, value="alice", system="keycloak"))
    assert found is not None
    assert found.username == "alice"


async def test_notification_dry_run_file(webhook: FakeWebhook, tmp_path: Path) -> None:
    notification = Notification(
        key="INC-1-escalation-2",
        kind=NotificationKind.ESCALATION,
        incident_id="INC-1",
        subject="Approval overdue",
        text="Disable alice is waiting for a second approval.",
        at=datetime(2025, 3, 1, 10, 0, tzinfo=UTC),
    )
    settings = connector_settings(webhook=webhook, dry_run=True)
    async with Responders(settings, tmp_path) as responders:
        await responders.notify(notification)
    text = _read(str(tmp_path / "INC-1-escalation-2-notify.json"))
    assert "hook-very-secret-4" not in text
    request = json.loads(text)["requests"][0]
    assert request["url"] == f"{webhook.url}/hooks/soar"
    assert request["headers"]["Idempotency-Key"] == "INC-1-escalation-2"
    assert request["headers"]["X-Soar-Signature"] == "<redacted>"
    assert request["body"]["subject"] == "Approval overdue"
    assert webhook.requests == []


async def test_an_answer_of_unexpected_shape_is_a_refusal(spec: SpecFactory, tmp_path: Path) -> None:
    # A proxy's login page instead of JSON: a clear refusal, not a crash of the activity.
    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>please sign in</html>")

    settings = ConnectorSettings(
        okta=OktaSettings(url="https://bank.okta.example", api_token=SecretStr("t0k"))
    )
    async with Responders(settings, tmp_path, transport=httpx.MockTransport(html)) as responders:
        with pytest.raises(
            ConnectorError, match=r"^okta: unexpected answer about alice: JSONDecodeError"
        ) as caught:
            await responders.apply(spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "okta"))
    assert not isinstance(caught.value, ConnectorUnavailable)
