"""The Keycloak connector against the fake Keycloak: tokens, check-then-act, revert, identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from soar.connectors import Attempt, Responders
from soar.errors import ConnectorError, ConnectorUnavailable
from soar.response.models import ActionKind, ActionOutcome, Entity, EntityKind
from soar.testing import FakeKeycloak, connector_settings

from .conftest import SpecFactory

TOKEN_PATH = "/realms/bank/protocol/openid-connect/token"


def _calls(fake: FakeKeycloak, method: str, path: str) -> int:
    return sum(1 for r in fake.requests if r.method == method and r.path == path)


async def test_disable_twice_changes_once_and_revert_enables(
    responders: Responders, keycloak: FakeKeycloak, spec: SpecFactory
) -> None:
    action = spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak")
    first = await responders.apply(action)
    again = await responders.apply(action)
    assert (first.outcome, again.outcome) == (ActionOutcome.APPLIED, ActionOutcome.ALREADY_APPLIED)
    assert keycloak.user("alice")["enabled"] is False
    assert keycloak.mutations[("disable_user", "alice")] == 1
    assert first.undo == {"id": keycloak.user("alice")["id"], "was_enabled": True}
    assert first.requests[-1] == f"PUT /admin/realms/bank/users/{first.undo['id']}"

    reverted = await responders.revert(action, first)
    assert reverted.outcome is ActionOutcome.REVERTED
    assert keycloak.user("alice")["enabled"] is True
    assert (await responders.revert(action, first)).outcome is ActionOutcome.ALREADY_REVERTED
    assert keycloak.mutations[("enable_user", "alice")] == 1


async def test_put_sends_the_whole_representation(
    responders: Responders, keycloak: FakeKeycloak, spec: SpecFactory
) -> None:
    await responders.apply(spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak"))
    put = next(r for r in keycloak.requests if r.method == "PUT")
    # Since Keycloak 24 a partial PUT may clear omitted fields: soar sends back what it read.
    assert put.body["email"] == "alice@bank.example"
    assert put.body["firstName"] == "Alice"
    assert put.body["enabled"] is False


async def test_user_disabled_before_soar_stays_disabled_after_revert(
    responders: Responders, keycloak: FakeKeycloak, spec: SpecFactory
) -> None:
    action = spec(ActionKind.DISABLE_USER, EntityKind.USER, "mallory", "keycloak")
    applied = await responders.apply(action)
    assert applied.outcome is ActionOutcome.ALREADY_APPLIED
    assert applied.undo["was_enabled"] is False
    reverted = await responders.revert(action, applied)
    assert reverted.outcome is ActionOutcome.ALREADY_REVERTED
    assert "disabled before soar acted" in reverted.detail
    assert keycloak.user("mallory")["enabled"] is False
    assert sum(n for (op, _), n in keycloak.mutations.items() if op.endswith("_user")) == 0


async def test_retry_after_a_killed_attempt_keeps_the_state_before(
    responders: Responders, keycloak: FakeKeycloak, spec: SpecFactory
) -> None:
    action = spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak")
    recorded: list[dict[str, object]] = []
    await responders.apply(action, Attempt(record=recorded.append))
    assert recorded == [{"id": keycloak.user("alice")["id"], "was_enabled": True}]
    # The attempt died before reporting; its retry finds alice disabled and learns why from the record.
    retry = await responders.apply(action, Attempt(previous=recorded[-1]))
    assert retry.outcome is ActionOutcome.ALREADY_APPLIED
    assert retry.undo["was_enabled"] is True
    assert (await responders.revert(action, retry)).outcome is ActionOutcome.REVERTED
    assert keycloak.user("alice")["enabled"] is True
    assert keycloak.mutations[("disable_user", "alice")] == 1


async def test_revoke_sessions_only_when_there_are_some(
    responders: Responders, keycloak: FakeKeycloak, spec: SpecFactory
) -> None:
    action = spec(ActionKind.REVOKE_SESSIONS, EntityKind.USER, "alice", "keycloak")
    first = await responders.apply(action)
    assert first.outcome is ActionOutcome.APPLIED
    assert "2 session(s)" in first.detail
    assert keycloak.session_count("alice") == 0
    assert (await responders.apply(action)).outcome is ActionOutcome.ALREADY_APPLIED
    assert keycloak.mutations[("revoke_sessions", "alice")] == 1
    keycloak.add_session("alice")  # the attacker signed in again: a new incident action ends it again
    assert (await responders.apply(action)).outcome is ActionOutcome.APPLIED
    reverted = await responders.revert(action, first)
    assert reverted.outcome is ActionOutcome.ALREADY_REVERTED
    assert reverted.requests == []


async def test_client_disable_and_revert(
    responders: Responders, keycloak: FakeKeycloak, spec: SpecFactory
) -> None:
    action = spec(ActionKind.DISABLE_CLIENT, EntityKind.CLIENT, "tpp-fintech", "keycloak")
    applied = await responders.apply(action)
    assert applied.outcome is ActionOutcome.APPLIED
    assert keycloak.client("tpp-fintech")["enabled"] is False
    assert (await responders.apply(action)).outcome is ActionOutcome.ALREADY_APPLIED
    assert (await responders.revert(action, applied)).outcome is ActionOutcome.REVERTED
    assert keycloak.client("tpp-fintech")["enabled"] is True
    assert keycloak.mutations[("disable_client", "tpp-fintech")] == 1


async def test_token_is_cached_and_fetched_again_once_on_401(
    responders: Responders, keycloak: FakeKeycloak, spec: SpecFactory
) -> None:
    await responders.apply(spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak"))
    await responders.apply(spec(ActionKind.DISABLE_CLIENT, EntityKind.CLIENT, "tpp-fintech", "keycloak"))
    assert _calls(keycloak, "POST", TOKEN_PATH) == 1
    keycloak.expire_tokens()  # e.g. Keycloak restarted, or the token was revoked
    result = await responders.apply(spec(ActionKind.REVOKE_SESSIONS, EntityKind.USER, "alice", "keycloak"))
    assert result.outcome is ActionOutcome.APPLIED
    assert _calls(keycloak, "POST", TOKEN_PATH) == 2
    assert [r.status for r in keycloak.requests if r.path == "/admin/realms/bank/users"][-2:] == [401, 200]


async def test_token_expiry_from_expires_in_triggers_a_new_token(
    keycloak: FakeKeycloak, spec: SpecFactory, tmp_path: Path
) -> None:
    keycloak.advertised_lifetime = 0  # the token says it expires at once: every call takes a fresh one
    async with Responders(connector_settings(keycloak=keycloak), tmp_path) as responders:
        await responders.apply(spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak"))
        await responders.apply(spec(ActionKind.DISABLE_CLIENT, EntityKind.CLIENT, "tpp-fintech", "keycloak"))
    admin_calls = sum(1 for r in keycloak.requests if r.path.startswith("/admin/"))
    assert admin_calls == 6
    assert _calls(keycloak, "POST", TOKEN_PATH) == admin_calls
    assert all(r.status != 401 for r in keycloak.requests)


async def test_wrong_client_secret_is_a_refusal_without_the_secret(
    keycloak: FakeKeycloak, spec: SpecFactory, tmp_path: Path
) -> None:
    settings = connector_settings(keycloak=keycloak)
    assert settings.keycloak is not None
    wrong = settings.keycloak.model_copy(
        update={"client_secret": type(settings.keycloak.client_secret)("nope-123")}
    )
    async with Responders(settings.model_copy(update={"keycloak": wrong}), tmp_path) as responders:
        with pytest.raises(ConnectorError) as caught:
            await responders.apply(spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak"))
    message = str(caught.value)
    assert not isinstance(caught.value, ConnectorUnavailable)
    assert message.startswith(f"keycloak: POST {TOKEN_PATH}: 401")
    assert "Invalid client" in message
    assert "nope-123" not in message
    assert "\n" not in message


async def test_unknown_user_is_a_refusal(responders: Responders, spec: SpecFactory) -> None:
    with pytest.raises(ConnectorError, match="user 'nobody' not found in realm bank") as caught:
        await responders.apply(spec(ActionKind.DISABLE_USER, EntityKind.USER, "nobody", "keycloak"))
    assert not isinstance(caught.value, ConnectorUnavailable)


async def test_server_error_is_retryable_and_changes_nothing(
    responders: Responders, keycloak: FakeKeycloak, spec: SpecFactory
) -> None:
    keycloak.fail_next(2, status=503)
    with pytest.raises(ConnectorUnavailable, match="503"):
        await responders.apply(spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak"))
    assert keycloak.user("alice")["enabled"] is True


async def test_identity_context(responders: Responders, keycloak: FakeKeycloak) -> None:
    keycloak.add_user("root-ops", roles=["auditor"], client_roles={"realm-management": ["manage-users"]})
    alice = await responders.identity(Entity(kind=EntityKind.USER, value="alice", system="keycloak"))
    assert alice is not None
    assert (alice.system, alice.username, alice.email) == ("keycloak", "alice", "alice@bank.example")
    assert alice.groups == ["/payments/operators"]
    assert alice.mfa_enrolled is True
    assert alice.enabled is True
    assert alice.privileged is False
    admin = await responders.identity(Entity(kind=EntityKind.USER, value="root-ops", system="keycloak"))
    assert admin is not None
    assert "realm-management:manage-users" in admin.roles
    assert "auditor" in admin.roles
    assert admin.privileged is True
    assert admin.mfa_enrolled is False
    by_email = await responders.identity(
        Entity(kind=EntityKind.USER, value="Alice@Bank.Example", system="keycloak")
    )
    assert by_email is not None
    assert by_email.username == "alice"
    assert await responders.identity(Entity(kind=EntityKind.USER, value="nobody", system="keycloak")) is None
