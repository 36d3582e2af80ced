"""The containment playbook on the time-skipping server: four-eyes, escalation, expiry, revert, audit trail.

The connector activities are recorded by a test double registered under their names (the connectors have
their own tests against the fakes); the audit activities are the real ones, on the embedded search engine.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from playbooks.containment import ContainmentWorkflow
from soar.actions.containment import RevertInput
from soar.audit.activities import AuditActivities
from soar.audit.verify import verify
from soar.engines.search import SearchClient
from soar.response.containment import ContainmentRequest
from soar.response.models import (
    SIGNAL_DECIDE,
    SIGNAL_REVERT,
    ActionKind,
    ActionOutcome,
    ActionResult,
    ActionSpec,
    ActionState,
    ApprovalDecision,
    Decision,
    Entity,
    EntityKind,
    Notification,
    NotificationKind,
    idempotency_key,
)

pytestmark = pytest.mark.engines
NS = "default"


@dataclass
class Connectors:
    """Records what the playbook asked the outside world to do."""

    applied: list[str] = field(default_factory=list)
    reverted: list[str] = field(default_factory=list)
    notified: list[NotificationKind] = field(default_factory=list)
    refuse: bool = False

    def activities(self) -> list[Any]:
        @activity.defn(name="containment.apply")
        async def apply(spec: ActionSpec) -> ActionResult:
            if self.refuse:
                raise ApplicationError(
                    "keycloak: 403 on PUT /users/x", type="ConnectorError", non_retryable=True
                )
            self.applied.append(spec.key)
            return ActionResult(
                key=spec.key, kind=spec.kind, outcome=ActionOutcome.APPLIED, system="keycloak", detail="ok"
            )

        @activity.defn(name="containment.revert")
        async def revert(data: RevertInput) -> ActionResult:
            spec = data.spec
            self.reverted.append(spec.key)
            return ActionResult(
                key=spec.key, kind=spec.kind, outcome=ActionOutcome.REVERTED, system="keycloak", detail="ok"
            )

        @activity.defn(name="response.notify")
        async def notify(note: Notification) -> None:
            self.notified.append(note.kind)

        return [apply, revert, notify]


@dataclass
class Bench:
    env: WorkflowEnvironment
    connectors: Connectors
    search: SearchClient
    queue: str

    async def start(
        self, requested_by: str, approvals: int, contain_for: timedelta | None = None
    ) -> WorkflowHandle[Any, Any]:
        target = Entity(kind=EntityKind.USER, value="alice.m", system="keycloak")
        incident = f"INC-{uuid.uuid4().hex[:6]}"
        spec = ActionSpec(
            incident_id=incident,
            kind=ActionKind.DISABLE_USER,
            target=target,
            key=idempotency_key(incident, ActionKind.DISABLE_USER, target),
            reason="test",
            requested_by=requested_by,
        )
        request = ContainmentRequest(
            spec=spec,
            approvals_required=approvals,
            escalate_after=timedelta(hours=1),
            expire_after=timedelta(hours=4),
            contain_for=contain_for,
        )
        return await self.env.client.start_workflow(
            ContainmentWorkflow.run, request, id=f"containment-{incident}-{spec.id}", task_queue=self.queue
        )

    async def decide(
        self, handle: WorkflowHandle[Any, Any], by: str, decision: Decision = Decision.APPROVE
    ) -> None:
        await handle.signal(SIGNAL_DECIDE, ApprovalDecision(decision=decision, by=by, at=datetime.now(UTC)))


@pytest.fixture
async def bench(own_workflow_env: WorkflowEnvironment, search: SearchClient) -> AsyncIterator[Bench]:
    connectors = Connectors()
    queue = f"containment-{uuid.uuid4().hex[:8]}"
    audit = AuditActivities(search, NS)
    async with Worker(
        own_workflow_env.client,
        task_queue=queue,
        workflows=[ContainmentWorkflow],
        activities=[*connectors.activities(), *audit.all()],
    ):
        yield Bench(own_workflow_env, connectors, search, queue)


HISTORIES = Path(__file__).parent / "histories"


async def _store_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """With REGENERATE_HISTORIES=1, keep the finished workflow's history for the replay tests."""
    if os.environ.get("REGENERATE_HISTORIES") == "1":
        history = await handle.fetch_history()
        await asyncio.to_thread((HISTORIES / f"{name}.json").write_text, history.to_json(), "utf-8")


async def _reach(handle: WorkflowHandle[Any, Any], state: ActionState) -> None:
    """Wait (in real time) until the workflow shows ``state``: activities run on the wall clock."""
    for _ in range(200):
        shown = await handle.query(ContainmentWorkflow.state)
        if shown is not None and shown.state == state:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{handle.id} never reached {state}")


async def test_a_playbook_proposal_needs_two_people_and_nobody_counts_twice(bench: Bench) -> None:
    handle = await bench.start("soar:triage", approvals=2, contain_for=timedelta(hours=2))
    await bench.decide(handle, "alice")
    await bench.decide(handle, "Alice")  # the same person again
    await bench.decide(handle, "soar:containment")  # soar never approves
    await bench.env.sleep(timedelta(minutes=1))
    assert bench.connectors.applied == []
    await bench.decide(handle, "bob")
    await _reach(handle, ActionState.APPLIED)
    await bench.env.sleep(timedelta(hours=3))  # the containment period ends
    result = await handle.result()
    assert result.state == ActionState.REVERTED
    assert result.approvals == ["alice", "bob"]
    assert len(result.refused) == 2
    assert len(bench.connectors.applied) == 1
    assert bench.connectors.reverted == bench.connectors.applied
    await _store_history(handle, "containment-two-approvals")
    report = await verify(bench.search, NS, stream=handle.id)
    assert report.ok
    assert report.records == 8  # proposed, approval requested, 2 refused, 2 granted, applied, reverted


async def test_the_requester_cannot_approve_and_the_request_expires(bench: Bench) -> None:
    handle = await bench.start("alice", approvals=1)
    await bench.decide(handle, "alice")
    await bench.env.sleep(timedelta(hours=5))
    result = await handle.result()
    assert result.state == ActionState.EXPIRED
    assert result.refused == ["alice: four-eyes: the requester cannot approve their own request"]
    assert bench.connectors.applied == []
    assert NotificationKind.ESCALATION in bench.connectors.notified
    await _store_history(handle, "containment-expired")


async def test_a_rejection_ends_it_without_acting(bench: Bench) -> None:
    handle = await bench.start("alice", approvals=1)
    await bench.decide(handle, "carol", Decision.REJECT)
    result = await handle.result()
    assert result.state == ActionState.REJECTED
    assert result.rejected_by == "carol"
    assert bench.connectors.applied == []


async def test_low_impact_runs_at_once_and_reverts_on_request(bench: Bench) -> None:
    handle = await bench.start("soar:triage", approvals=0)
    await _reach(handle, ActionState.APPLIED)
    await handle.signal(SIGNAL_REVERT, "dave")
    result = await handle.result()
    assert result.state == ActionState.REVERTED
    assert len(bench.connectors.applied) == 1
    assert len(bench.connectors.reverted) == 1


async def test_a_refused_call_fails_the_action_and_says_why(bench: Bench) -> None:
    bench.connectors.refuse = True
    handle = await bench.start("soar:triage", approvals=0)
    result = await handle.result()
    assert result.state == ActionState.FAILED
    assert result.applied is None
    assert (await verify(bench.search, NS, stream=handle.id)).ok
