"""The Okta connector against the fake Okta: lifecycle rules, apps, sessions, identity, token hygiene."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from soar.connectors import Attempt, Responders
from soar.errors import ConnectorError, ConnectorUnavailable
from soar.response.models import ActionKind, ActionOutcome, Entity, EntityKind
from soar.testing import FakeOkta, connector_settings

from .conftest import SpecFactory

BOB = "bob@bank.example"


async def test_suspend_twice_changes_once_and_revert_unsuspends(
    responders: Responders, okta: FakeOkta, spec: SpecFactory
) -> None:
    action = spec(ActionKind.DISABLE_USER, EntityKind.USER, BOB, "okta")
    first = await responders.apply(action)
    assert first.outcome is ActionOutcome.APPLIED
    assert (await responders.apply(action)).outcome is ActionOutcome.ALREADY_APPLIED
    assert okta.user(BOB)["status"] == "SUSPENDED"
    assert okta.mutations[("disable_user", BOB)] == 1
    assert first.undo == {"id": okta.user(BOB)["id"], "was_active": True}
    assert (await responders.revert(action, first)).outcome is ActionOutcome.REVERTED
    assert (await responders.revert(action, first)).outcome is ActionOutcome.ALREADY_REVERTED
    assert okta.user(BOB)["status"] == "ACTIVE"
    assert okta.mutations[("enable_user", BOB)] == 1


async def test_user_suspended_before_soar_stays_suspended(
    responders: Responders, okta: FakeOkta, spec: SpecFactory
) -> None:
    action = spec(ActionKind.DISABLE_USER, EntityKind.USER, "carol@bank.example", "okta")
    applied = await responders.apply(action)
    assert applied.outcome is ActionOutcome.ALREADY_APPLIED
    assert applied.undo["was_active"] is False
    assert (await responders.revert(action, applied)).outcome is ActionOutcome.ALREADY_REVERTED
    assert okta.user("carol@bank.example")["status"] == "SUSPENDED"
    assert sum(okta.mutations.values()) == 0


async def test_retry_learns_from_the_recorded_attempt(
    responders: Responders, okta: FakeOkta, spec: SpecFactory
) -> None:
    action = spec(ActionKind.DISABLE_USER, EntityKind.USER, BOB, "okta")
    recorded: list[dict[str, object]] = []
    await responders.apply(action, Attempt(record=recorded.append))
    retry = await responders.apply(action, Attempt(previous=recorded[-1]))
    assert retry.outcome is ActionOutcome.ALREADY_APPLIED
    assert retry.undo["was_active"] is True
    assert (await responders.revert(action, retry)).outcome is ActionOutcome.REVERTED
    assert okta.user(BOB)["status"] == "ACTIVE"


async def test_locked_out_user_cannot_be_suspended(
    responders: Responders, okta: FakeOkta, spec: SpecFactory
) -> None:
    with pytest.raises(ConnectorError, match="LOCKED_OUT: Okta suspends only an ACTIVE user") as caught:
        await responders.apply(spec(ActionKind.DISABLE_USER, EntityKind.USER, "dave@bank.example", "okta"))
    assert not isinstance(caught.value, ConnectorUnavailable)
    assert sum(okta.mutations.values()) == 0


async def test_the_fake_enforces_okta_status_rules(okta: FakeOkta) -> None:
    # soar checks first; the fake must refuse too, or the check above would prove nothing.
    user_id = okta.user("dave@bank.example")["id"]
    async with httpx.AsyncClient(
        base_url=okta.url, headers={"Authorization": "SSWS okta-very-secret-2"}
    ) as client:
        refused = await client.post(f"/api/v1/users/{user_id}/lifecycle/suspend")
        unsuspend = await client.post(f"/api/v1/users/{user_id}/lifecycle/unsuspend")
    assert (refused.status_code, unsuspend.status_code) == (400, 400)
    assert refused.json()["errorCode"] == "E0000001"


async def test_clear_sessions(responders: Responders, okta: FakeOkta, spec: SpecFactory) -> None:
    action = spec(ActionKind.REVOKE_SESSIONS, EntityKind.USER, BOB, "okta")
    applied = await responders.apply(action)
    assert applied.outcome is ActionOutcome.APPLIED
    assert okta.session_count(BOB) == 0
    delete = next(r for r in okta.requests if r.method == "DELETE")
    assert delete.query == {"oauthTokens": ["true"]}
    assert (await responders.revert(action, applied)).outcome is ActionOutcome.ALREADY_REVERTED


@pytest.mark.parametrize("by", ["label", "id"])
async def test_app_deactivate_and_activate(
    responders: Responders, okta: FakeOkta, spec: SpecFactory, by: str
) -> None:
    value = "Fintech TPP" if by == "label" else okta.app("Fintech TPP")["id"]
    action = spec(ActionKind.DISABLE_CLIENT, EntityKind.CLIENT, value, "okta")
    applied = await responders.apply(action)
    assert applied.outcome is ActionOutcome.APPLIED
    assert okta.app("Fintech TPP")["status"] == "INACTIVE"
    assert (await responders.apply(action)).outcome is ActionOutcome.ALREADY_APPLIED
    assert (await responders.revert(action, applied)).outcome is ActionOutcome.REVERTED
    assert okta.app("Fintech TPP")["status"] == "ACTIVE"
    assert okta.mutations[("disable_client", "Fintech TPP")] == 1


async def test_ambiguous_app_is_refused(responders: Responders, okta: FakeOkta, spec: SpecFactory) -> None:
    okta.add_app("Fintech", name="oidc_client")
    okta.add_app("Fintech", name="saml_client")  # same label, different app: soar must not guess
    with pytest.raises(ConnectorError, match="2 apps with id, label, name or client_id 'Fintech'"):
        await responders.apply(spec(ActionKind.DISABLE_CLIENT, EntityKind.CLIENT, "Fintech", "okta"))


async def test_unknown_user_is_a_refusal(responders: Responders, spec: SpecFactory) -> None:
    with pytest.raises(ConnectorError, match=r"okta: GET /api/v1/users/eve@bank.example: user .* not found"):
        await responders.apply(spec(ActionKind.DISABLE_USER, EntityKind.USER, "eve@bank.example", "okta"))


async def test_wrong_token_is_refused_without_the_token(
    okta: FakeOkta, spec: SpecFactory, tmp_path: Path
) -> None:
    settings = connector_settings(okta=okta)
    assert settings.okta is not None
    wrong = settings.okta.model_copy(update={"api_token": SecretStr("00wrong-okta-token")})
    async with Responders(settings.model_copy(update={"okta": wrong}), tmp_path) as responders:
        with pytest.raises(ConnectorError) as caught:
            await responders.apply(spec(ActionKind.DISABLE_USER, EntityKind.USER, BOB, "okta"))
    assert "401" in str(caught.value)
    assert "Invalid token provided" in str(caught.value)
    assert "00wrong-okta-token" not in str(caught.value)
    assert all(r.headers["authorization"] == "SSWS ***" for r in okta.requests)


async def test_rate_limit_is_retryable(responders: Responders, okta: FakeOkta, spec: SpecFactory) -> None:
    okta.fail_next(1, status=429)
    with pytest.raises(ConnectorUnavailable, match="429"):
        await responders.apply(spec(ActionKind.DISABLE_USER, EntityKind.USER, BOB, "okta"))
    assert (await responders.apply(spec(ActionKind.DISABLE_USER, EntityKind.USER, BOB, "okta"))).outcome is (
        ActionOutcome.APPLIED
    )


async def test_identity_context(responders: Responders, okta: FakeOkta) -> None:
    okta.add_user("erin@bank.example", groups=["Everyone", "Okta Admins"])
    bob = await responders.identity(Entity(kind=EntityKind.USER, value=BOB, system="okta"))
    assert bob is not None
    assert (bob.system, bob.username, bob.enabled) == ("okta", BOB, True)
    assert bob.groups == ["Everyone", "Tellers"]
    assert bob.mfa_enrolled is True
    assert bob.privileged is False
    erin = await responders.identity(Entity(kind=EntityKind.USER, value="erin@bank.example", system="okta"))
    assert erin is not None
    assert erin.privileged is True
    assert erin.mfa_enrolled is False
    carol = await responders.identity(Entity(kind=EntityKind.USER, value="carol@bank.example", system="okta"))
    assert carol is not None
    assert carol.enabled is False
    assert (
        await responders.identity(Entity(kind=EntityKind.USER, value="eve@bank.example", system="okta"))
        is None
    )
