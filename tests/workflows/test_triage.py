"""Triage end to end on the time-skipping server: enrich, prioritise, group, propose; then approve and apply.

Everything but the clock is real: the whole soar worker (triage, incident, containment, audit activities)
on the embedded search engine, connectors in dry-run mode (no IdP configured), so actions become files.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from playbooks.containment import ContainmentWorkflow
from playbooks.triage import TriageWorkflow
from soar.audit.verify import verify
from soar.config import Settings
from soar.detect.alerts import alerts_index
from soar.detect.checkpoints import ensure_indices
from soar.detect.routing import AlertHandOver
from soar.engines.search import SearchClient
from soar.response.catalogue import load_catalogue
from soar.response.models import (
    SIGNAL_DECIDE,
    ActionOutcome,
    ActionState,
    ApprovalDecision,
    Decision,
)
from soar.response.policy import load_response_file
from soar.worker import ResponseConfig, soar_worker

pytestmark = pytest.mark.engines
REPO = Path(__file__).resolve().parents[2]
RULE = "95845fbc-4105-5cae-8031-8a4bcd5aac24"  # okta-admin-takeover: the response file disables the user


async def _alert(search: SearchClient, settings: Settings, user: str, at: datetime) -> AlertHandOver:
    await ensure_indices(search, settings.namespace)
    uid = uuid.uuid4().hex
    doc: dict[str, Any] = {
        "@timestamp": datetime.now(UTC).isoformat(),
        "event": {"dataset": "okta.system", "kind": "signal"},
        "user": {"name": user},
        "source": {"ip": "81.2.69.160", "geo": {"country_iso_code": "GB"}},
        "soar": {
            "alert": {
                "uuid": uid,
                "severity": "critical",
                "risk_score": 99,
                "original_time": at.isoformat(),
                "rule": {
                    "uuid": RULE,
                    "name": "Okta admin takeover",
                    "tags": ["attack.persistence", "attack.t1098", "attack.t1078"],
                    "group": "okta",
                },
            }
        },
    }
    index = alerts_index(settings.namespace)
    await search.es.index(index=index, id=uid, document=doc, refresh=True)
    return AlertHandOver(
        alert_id=uid,
        alert_index=index,
        rule_id=RULE,
        rule_title="Okta admin takeover",
        severity="critical",
        source_index="logs-okta.system-default",
        source_id=uid[:20],
        original_time=at.isoformat(),
    )


async def _store_history(client: Client, workflow_id: str, name: str) -> None:
    """With REGENERATE_HISTORIES=1, keep a finished workflow's history for the replay tests."""
    if os.environ.get("REGENERATE_HISTORIES") == "1":
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        path = Path(__file__).parent / "histories" / f"{name}.json"
        await asyncio.to_thread(path.write_text, history.to_json(), "utf-8")


async def _state(client: Client, workflow_id: str, want: ActionState) -> None:
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(300):
        shown = await handle.query(ContainmentWorkflow.state)
        if shown is not None and shown.state == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} never reached {want}")


async def test_two_alerts_of_one_user_make_one_incident_and_one_approved_action(
    workflow_env: WorkflowEnvironment, search: SearchClient, settings: Settings
) -> None:
    queue = f"soar-{uuid.uuid4().hex[:8]}"
    settings = settings.model_copy(
        # Sandboxed, as a worker asked for the sandbox runs them: a non-deterministic call fails here.
        update={"temporal": settings.temporal.model_copy(update={"task_queue": queue, "sandbox": True})}
    )
    config = ResponseConfig(
        response=load_response_file(REPO / "response" / "routing.yml"),
        catalogue=load_catalogue(REPO / "response" / "catalogue.yml"),
    )
    client = workflow_env.client
    at = datetime.now(UTC) - timedelta(minutes=5)
    async with soar_worker(settings, search, client, config=config) as worker, worker:
        first, second = [
            await _alert(search, settings, "Pat.Admin", at + timedelta(minutes=i)) for i in (0, 1)
        ]
        results = [
            await client.execute_workflow(TriageWorkflow.run, a, id=f"alert-{a.alert_id}", task_queue=queue)
            for a in (first, second)
        ]
        assert results[0].priority == 1
        assert results[0].incident_id is not None
        assert results[0].incident_created
        assert results[1].incident_id == results[0].incident_id
        assert not results[1].incident_created
        # Both alerts propose the same action on the same user: one containment workflow.
        assert results[0].proposed == results[1].proposed
        assert (
            len(results[0].proposed) == 2
        )  # revoke sessions (runs at once) and disable the user (four-eyes)
        await _store_history(client, f"alert-{first.alert_id}", "triage-first-alert")
        await _store_history(client, f"alert-{second.alert_id}", "triage-joins-incident")
        await _store_history(client, f"incident-{results[0].incident_id}", "incident-two-alerts")
        disable = next(w for w in results[0].proposed if "disable_user" in w)
        revoke = next(w for w in results[0].proposed if "revoke_sessions" in w)
        await _state(client, revoke, ActionState.APPLIED)
        await _state(client, disable, ActionState.PROPOSED)
        handle = client.get_workflow_handle(disable)
        for person in ("alice", "bob"):
            await handle.signal(
                SIGNAL_DECIDE, ApprovalDecision(decision=Decision.APPROVE, by=person, at=datetime.now(UTC))
            )
        await _state(client, disable, ActionState.APPLIED)
        shown = await handle.query(ContainmentWorkflow.state)
        assert shown is not None
        assert shown.applied is not None
        assert shown.applied.outcome == ActionOutcome.DRY_RUN
        assert shown.applied.dry_run_file is not None
        assert await asyncio.to_thread(Path(shown.applied.dry_run_file).is_file)
    report = await verify(search, settings.namespace)
    assert report.ok
    assert report.streams >= 4  # two triage trails, two containment trails (and the incident's)
