"""The containment, identity and notify activities in Temporal's ActivityEnvironment."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from soar.actions import ContainmentActivities, NotifyActivities, RevertInput, response_activities
from soar.connectors import Responders
from soar.response.models import ActionKind, ActionOutcome, Entity, EntityKind, Notification, NotificationKind
from soar.testing import FakeKeycloak, FakeWebhook

from .conftest import SpecFactory


async def test_apply_heartbeats_the_undo_before_the_change_and_a_retry_uses_it(
    responders: Responders, keycloak: FakeKeycloak, spec: SpecFactory
) -> None:
    activities = ContainmentActivities(responders)
    action = spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak")
    env = ActivityEnvironment()
    beats: list[Any] = []

    def on_heartbeat(*details: Any) -> None:
        beats.append((details, keycloak.user("alice")["enabled"]))

    env.on_heartbeat = on_heartbeat
    first = await env.run(activities.apply_action, action)
    assert first.outcome is ActionOutcome.APPLIED
    undo = {"id": keycloak.user("alice")["id"], "was_enabled": True}
    # Recorded while alice was still enabled: a worker killed after the PUT leaves this for its retry.
    assert beats == [(({"key": action.key, "undo": undo},), True)]

    retry_env = ActivityEnvironment()
    retry_env.info = dataclasses.replace(retry_env.info, attempt=2, heartbeat_details=[beats[0][0][0]])
    retry = await retry_env.run(activities.apply_action, action)
    assert retry.outcome is ActionOutcome.ALREADY_APPLIED
    assert retry.undo == undo
    assert keycloak.mutations[("disable_user", "alice")] == 1

    reverted = await ActivityEnvironment().run(
        activities.revert_action, RevertInput(spec=action, applied=retry)
    )
    assert reverted.outcome is ActionOutcome.REVERTED
    assert keycloak.user("alice")["enabled"] is True


async def test_heartbeat_of_another_action_is_ignored(
    responders: Responders, keycloak: FakeKeycloak, spec: SpecFactory
) -> None:
    keycloak.add_user("frank", enabled=False)
    action = spec(ActionKind.DISABLE_USER, EntityKind.USER, "frank", "keycloak")
    env = ActivityEnvironment()
    stale = {"key": "another-key", "undo": {"id": keycloak.user("frank")["id"], "was_enabled": True}}
    env.info = dataclasses.replace(env.info, attempt=2, heartbeat_details=[stale])
    result = await env.run(ContainmentActivities(responders).apply_action, action)
    assert result.undo["was_enabled"] is False


async def test_refusal_is_a_non_retryable_connector_error(responders: Responders, spec: SpecFactory) -> None:
    activities = ContainmentActivities(responders)
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            activities.apply_action, spec(ActionKind.DISABLE_USER, EntityKind.USER, "nobody", "keycloak")
        )
    assert caught.value.type == "ConnectorError"
    assert caught.value.non_retryable is True
    assert "user 'nobody' not found" in caught.value.message


async def test_outage_is_a_retryable_connector_error(
    responders: Responders, keycloak: FakeKeycloak, spec: SpecFactory
) -> None:
    keycloak.fail_next(1, status=503)
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            ContainmentActivities(responders).apply_action,
            spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak"),
        )
    assert caught.value.type == "ConnectorError"
    assert caught.value.non_retryable is False


async def test_identity_activity(responders: Responders) -> None:
    activities = ContainmentActivities(responders)
    found = await ActivityEnvironment().run(
        activities.identity, Entity(kind=EntityKind.USER, value="alice", system="keycloak")
    )
    assert found is not None
    assert found.groups == ["/payments/operators"]
    assert (
        await ActivityEnvironment().run(activities.identity, Entity(kind=EntityKind.ADDRESS, value="1.2.3.4"))
        is None
    )


async def test_notify_activity(responders: Responders, webhook: FakeWebhook) -> None:
    notification = Notification(
        key="INC-1-info-1",
        kind=NotificationKind.INFO,
        incident_id="INC-1",
        subject="Contained",
        text="alice is disabled.",
        at=datetime(2025, 3, 1, tzinfo=UTC),
    )
    activities = NotifyActivities(responders)
    await ActivityEnvironment().run(activities.notify, notification)
    await ActivityEnvironment().run(activities.notify, notification)
    assert [m["key"] for m in webhook.messages] == ["INC-1-info-1"]
    webhook.fail_next(1, status=400)
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.notify, notification)
    assert (caught.value.type, caught.value.non_retryable) == ("ConnectorError", True)


def test_activity_names_for_workers(responders: Responders) -> None:
    names = [getattr(f, "__temporal_activity_definition").name for f in response_activities(responders)]
    assert names == [
        "containment.apply",
        "containment.revert",
        "response.identity",
        "containment.propose",
        "response.notify",
    ]


async def test_answer_lost_after_the_change_then_retry_keeps_exactly_one_change(
    responders: Responders, keycloak: FakeKeycloak, spec: SpecFactory
) -> None:
    activities = ContainmentActivities(responders)
    action = spec(ActionKind.DISABLE_USER, EntityKind.USER, "alice", "keycloak")
    keycloak.lose_next(1, status=502, method="PUT")  # Keycloak disables alice, soar never hears back
    first = ActivityEnvironment()
    beats: list[Any] = []
    first.on_heartbeat = lambda *details: beats.extend(details)
    with pytest.raises(ApplicationError) as caught:
        await first.run(activities.apply_action, action)
    assert caught.value.non_retryable is False  # Temporal will run it again
    assert keycloak.user("alice")["enabled"] is False

    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2, heartbeat_details=beats)
    result = await retry.run(activities.apply_action, action)
    assert result.outcome is ActionOutcome.ALREADY_APPLIED
    assert result.undo["was_enabled"] is True
    assert keycloak.mutations[("disable_user", "alice")] == 1
    await ActivityEnvironment().run(activities.revert_action, RevertInput(spec=action, applied=result))
    assert keycloak.user("alice")["enabled"] is True
