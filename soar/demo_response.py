"""The demo's response stages: playbooks finish, people approve containment, the initial report appears.

The demo plays the people too: two analysts approve every containment action waiting for approval (the
second identity is what four-eyes asks for), and it waits for the DORA initial notification to be written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, NotFoundError
from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from soar.detect.alerts import alerts_index
from soar.engines.search import SearchClient, search_error
from soar.errors import SoarError
from soar.incidents.models import IncidentView
from soar.incidents.store import list_incidents
from soar.response.models import SIGNAL_DECIDE, ActionState, ApprovalDecision, Decision

DEMO_APPROVERS = ("analyst.alice", "analyst.bob")
_CONCURRENCY = 64


class DispatchSummary(BaseModel):
    """Playbooks the detection engine started, how they ended, and the containment they proposed."""

    started: int = 0
    completed: int = 0
    failed: list[str] = Field(default_factory=list)
    proposed: set[str] = Field(default_factory=set)  # containment workflow ids


async def _started_workflows(search: SearchClient, namespace: str) -> list[str]:
    query = {"term": {"soar.alert.handover.status": "started"}}
    ids: list[str] = []
    try:
        await search.es.indices.refresh(index=alerts_index(namespace))
        response = await search.es.search(
            index=alerts_index(namespace),
            query=query,
            size=10_000,
            source_includes=["soar.alert.workflow_id"],
        )
    except NotFoundError:
        return []
    except ApiError as exc:
        raise search_error(exc, "listing handed-over alerts") from None
    for hit in response["hits"]["hits"]:
        workflow_id = hit["_source"]["soar"]["alert"].get("workflow_id")
        if workflow_id:
            ids.append(workflow_id)
    return ids


async def await_playbooks(temporal: Client, search: SearchClient, namespace: str) -> DispatchSummary:
    """Wait for every playbook the hand-over started (triage of each alert) to finish."""
    ids = await _started_workflows(search, namespace)
    summary = DispatchSummary(started=len(ids))
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def one(workflow_id: str) -> None:
        async with gate:
            try:
                result: Any = await temporal.get_workflow_handle(workflow_id).result()
                summary.completed += 1
                if isinstance(result, dict):
                    summary.proposed.update(result.get("proposed") or [])
            except (WorkflowFailureError, RPCError) as exc:
                summary.failed.append(f"{workflow_id}: {exc}")

    await asyncio.gather(*(one(w) for w in ids))
    return summary


async def approve_pending(
    temporal: Client, workflow_ids: Sequence[str], approvers: Sequence[str] = DEMO_APPROVERS
) -> list[str]:
    """Approve every containment that waits for approval, once per approver; returns their workflow ids."""
    approved: list[str] = []
    for workflow_id in sorted(workflow_ids):
        handle = temporal.get_workflow_handle(workflow_id)
        shown: Any = await handle.query("state")
        if not shown or shown.get("state") != ActionState.PROPOSED or not shown.get("approvals_required"):
            continue
        for person in approvers:
            decision = ApprovalDecision(
                decision=Decision.APPROVE, by=person, at=datetime.now(UTC), comment="approved in the demo"
            )
            await handle.signal(SIGNAL_DECIDE, decision)
        approved.append(workflow_id)
    return approved


async def await_state(
    temporal: Client, workflow_ids: Sequence[str], state: ActionState, within: float
) -> int:
    """Wait until the containment workflows show ``state`` (or ``within`` seconds pass); returns how many do."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    done: set[str] = set()
    while loop.time() < deadline and len(done) < len(workflow_ids):
        for workflow_id in set(workflow_ids) - done:
            shown: Any = await temporal.get_workflow_handle(workflow_id).query("state")
            if shown is not None and shown.get("state") == state:
                done.add(workflow_id)
        await asyncio.sleep(0.2)
    return len(done)


async def await_initial_report(search: SearchClient, namespace: str, within: float) -> list[IncidentView]:
    """Wait until an incident classified major has its initial notification rendered; all incidents then.

    ``within`` 0 reads the incidents once and does not wait.

    Raises:
        SoarError: no initial notification within ``within`` seconds (> 0).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        incidents = await list_incidents(search, namespace, limit=1000)
        if within <= 0 or any(r.stage == "initial" for i in incidents for r in i.reports):
            return incidents
        if loop.time() > deadline:
            majors = [i.incident_id for i in incidents if i.classification and i.classification.major]
            raise SoarError(
                f"no initial notification after {within:.0f} s (major incidents: {majors or 'none'})"
            )
        await asyncio.sleep(0.5)
