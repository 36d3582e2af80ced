"""The incident workflow on its own time-skipping server: DORA clocks in skipped time, real activities.

The incident, audit and render activities are the real ones (embedded search engine, files in a temporary
folder); ``response.notify`` is a test double that records what would have been sent. The deadlines lie
hours and days ahead: ``env.sleep`` skips to them, and the test waits (in real time) for the activities the
timers set off. Each test runs its own test server, so the days it skips leave other tests' clocks alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from playbooks.incident import IncidentWorkflow
from soar.actions.incident import IncidentActivities
from soar.audit.activities import AuditActivities
from soar.audit.store import audit_index
from soar.audit.verify import verify
from soar.config import Settings
from soar.dora.assessment import Contact, EntityProfile
from soar.dora.document import digest
from soar.engines.search import SearchClient
from soar.incidents.models import (
    SIGNAL_RENDER,
    IncidentPolicy,
    IncidentStatus,
    IncidentUpdate,
    IncidentView,
    RenderRequest,
)
from soar.incidents.state import IncidentStart
from soar.incidents.store import get_incident
from soar.response.catalogue import Catalogue
from soar.response.models import (
    SIGNAL_ALERT,
    SIGNAL_UPDATE,
    Notification,
    NotificationKind,
    incident_workflow_id,
)
from soar.response.settings import DoraSettings, Service
from tests.unit.incidents.helpers import alert

pytestmark = pytest.mark.engines
MAJOR = {"critical_services_affected": "true", "costs_eur": "250000", "reputational": "media"}
ENTITY = EntityProfile(
    name="Demo Bank AG",
    lei="529900T8BM49AURSDO55",
    primary_contact=Contact(
        name="Ines Incident", email="ict-incidents@bank.example", phone="+49 69 1234 5600"
    ),
)


@pytest.fixture
def incident_env(own_workflow_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """The incident tests skip days: a server of their own."""
    return own_workflow_env


@dataclass
class Bench:
    env: WorkflowEnvironment
    search: SearchClient
    settings: Settings
    activities: IncidentActivities
    notified: list[Notification] = field(default_factory=list)
    started: set[str] = field(default_factory=set)

    async def attach(self, alert_id: str, **kwargs: Any) -> tuple[str, bool]:
        result = await ActivityEnvironment().run(self.activities.attach, alert(alert_id, **kwargs))
        self.started.add(result.incident_id)
        return result.incident_id, result.created

    async def end(self) -> None:
        """Terminate this test's incidents: their timers would otherwise hold the next test's skipped time."""
        for incident_id in self.started:
            await self.idle()
            with contextlib.suppress(RPCError):
                await self.handle(incident_id).terminate("end of test")

    async def idle(self) -> None:
        """Wait (in real time) until no incident of this test has a workflow task or an activity under way.

        Time is skipped only then: skipped while a task runs, it would time the task out.
        """
        for incident_id in self.started:
            handle = self.handle(incident_id)
            for _ in range(300):
                raw = (await handle.describe()).raw_description
                if not raw.pending_activities and not raw.HasField("pending_workflow_task"):
                    break
                await asyncio.sleep(0.05)

    async def skip(self, duration: timedelta) -> None:
        """Let the workflows settle, then skip time."""
        await self.idle()
        await self.env.sleep(duration)

    def handle(self, incident_id: str) -> WorkflowHandle[IncidentWorkflow, IncidentView]:
        return self.env.client.get_workflow_handle_for(
            IncidentWorkflow.run, incident_workflow_id(incident_id)
        )

    async def view(self, incident_id: str) -> IncidentView:
        return await self.handle(incident_id).query(IncidentWorkflow.state)

    async def until(self, incident_id: str, what: str, check: Callable[[IncidentView], bool]) -> IncidentView:
        """Wait (in real time) until the workflow's view satisfies ``check``."""
        for _ in range(300):
            view = await self.view(incident_id)
            if check(view):
                return view
            await asyncio.sleep(0.1)
        shown = view.model_dump_json(include={"deadlines", "problems", "submissions", "report_errors"})
        raise AssertionError(f"{incident_id}: never reached: {what}; view: {shown}")

    async def update(self, incident_id: str, by: str = "ines", **values: str) -> None:
        now = await self.env.get_current_time()
        await self.handle(incident_id).signal(SIGNAL_UPDATE, IncidentUpdate(by=by, at=now, values=values))

    def kinds(self) -> list[NotificationKind]:
        return [n.kind for n in self.notified]


@pytest.fixture
async def bench(
    incident_env: WorkflowEnvironment, search: SearchClient, settings: Settings, tmp_path: Path
) -> AsyncIterator[Bench]:
    dora = DoraSettings(entity=ENTITY, clients_total=3000, remind_before=timedelta(hours=1))
    response = settings.response.model_copy(update={"dora": dora, "reports_dir": tmp_path / "reports"})
    queue = f"incident-{uuid.uuid4().hex[:8]}"
    settings = settings.model_copy(
        update={"response": response, "temporal": settings.temporal.model_copy(update={"task_queue": queue})}
    )
    catalogue = Catalogue(services=[Service(name="payments", criticality="critical", critical_function=True)])
    activities = IncidentActivities(search, incident_env.client, settings, catalogue)
    b = Bench(incident_env, search, settings, activities)

    @activity.defn(name="response.notify")
    async def notify(note: Notification) -> None:
        b.notified.append(note)

    async with Worker(
        incident_env.client,
        task_queue=queue,
        workflows=[IncidentWorkflow],
        activities=[*activities.all(), *AuditActivities(search, settings.namespace).all(), notify],
    ):
        try:
            yield b
        finally:
            await b.end()


def _json(path: str) -> Any:
    return json.loads(Path(path).read_text("utf-8"))


def _exists(*paths: str) -> bool:
    return all(Path(p).is_file() for p in paths)


def _major(v: IncidentView) -> bool:
    return v.classification is not None and v.classification.major


async def test_major_incident_renders_its_initial_report_reminds_and_escalates(bench: Bench) -> None:
    incident, created = await bench.attach("a1a1a1a1a1")
    assert created
    await bench.update(incident, **MAJOR)
    view = await bench.until(incident, "the initial report", lambda v: _major(v) and len(v.reports) == 1)
    assert view.classification is not None
    assert view.classification.classified_at is not None
    classified = view.classification.classified_at
    initial = view.deadlines[0]
    assert initial.report == "initial"
    # RTS-R Art. 5(1)(a): classified within 24 h of awareness, so 4 h after classification binds.
    assert initial.due == classified + timedelta(hours=4)
    assert {d.report: d.due for d in view.deadlines[1:]} == {"intermediate": None, "final": None}
    report = view.reports[0]
    assert report.stage == "initial"
    document = _json(report.files["json"])
    assert document["sha256"] == report.sha256 == digest(document["report"])
    assert document["report"]["incident"]["financialEntityCode"] == incident
    assert _exists(report.files["html"], report.files["md"])
    assert bench.notified == []

    await bench.skip(timedelta(hours=3, minutes=1))  # one hour before the deadline
    view = await bench.until(incident, "the reminder", lambda v: v.deadlines[0].reminded_at is not None)
    await bench.until(incident, "a fresh draft", lambda v: len(v.reports) == 2)
    assert bench.kinds() == [NotificationKind.REMINDER]

    await bench.skip(timedelta(hours=1))  # the deadline passes, nothing submitted
    view = await bench.until(incident, "the escalation", lambda v: v.deadlines[0].escalated_at is not None)
    await bench.until(incident, "the notification", lambda v: len(bench.notified) == 2)
    assert bench.kinds() == [NotificationKind.REMINDER, NotificationKind.ESCALATION]
    assert view.deadlines[0].status == "overdue"
    assert bench.notified[1].incident_id == incident
    await bench.search.es.indices.refresh(index=audit_index(bench.settings.namespace))
    missed = await bench.search.es.count(
        index=audit_index(bench.settings.namespace), query={"term": {"action": "deadline.missed"}}
    )
    assert missed["count"] == 1
    assert (await verify(bench.search, bench.settings.namespace, stream=incident_workflow_id(incident))).ok


async def test_submitting_the_initial_report_starts_the_intermediate_clock(bench: Bench) -> None:
    incident, _ = await bench.attach("b2b2b2b2b2")
    await bench.update(incident, **MAJOR)
    await bench.until(incident, "major", _major)
    submitted = await bench.env.get_current_time() + timedelta(minutes=30)
    await bench.update(incident, **{"submitted.initial": submitted.isoformat()})
    view = await bench.until(incident, "the intermediate clock", lambda v: v.deadlines[1].due is not None)
    assert view.deadlines[0].status == "submitted"
    assert view.deadlines[1].due == submitted + timedelta(hours=72)
    # Nothing more is due for the initial report: skipping past its deadline sends nothing.
    await bench.skip(timedelta(hours=5))
    await bench.until(incident, "saved", lambda v: v.deadlines[0].escalated_at is None)
    assert bench.notified == []
    # The intermediate reminder comes an hour before its deadline.
    await bench.skip(timedelta(hours=66, minutes=31))  # 71 h 31 min after the update
    await bench.until(incident, "the intermediate reminder", lambda v: v.deadlines[1].reminded_at is not None)
    assert bench.kinds() == [NotificationKind.REMINDER]
    assert bench.notified[0].subject.startswith(f"{incident}: intermediate report due")


async def test_an_update_reclassifies_and_the_figures_say_where_they_came_from(bench: Bench) -> None:
    incident, _ = await bench.attach("c3c3c3c3c3")
    await bench.update(incident, costs_eur="1000")
    view = await bench.until(incident, "assessed", lambda v: v.classification is not None)
    assert not _major(view)
    assert view.deadlines == []
    await bench.update(incident, by="omar", **MAJOR)
    view = await bench.until(incident, "major", _major)
    rows = {r.name: r for r in view.figures}
    assert rows["costs_eur"].value == "250000"
    assert rows["costs_eur"].source == "update"
    assert "omar" in rows["costs_eur"].detail
    assert rows["clients_total"].source == "settings"
    await bench.handle(incident).signal(
        SIGNAL_RENDER, RenderRequest(stage="initial", by="omar", request_id="req-2")
    )
    view = await bench.until(
        incident, "the requested report", lambda v: any(r.request_id == "req-2" for r in v.reports)
    )
    requested = next(r for r in view.reports if r.request_id == "req-2")
    assert requested.reason == "requested by omar"
    assert _exists(*requested.files.values())
    economic = next(c for c in view.classification.criteria if c.criterion == "economic_impact")  # type: ignore[union-attr]
    assert economic.met
    assert "250,000" in economic.reason


async def test_duplicate_alert_signals_count_once(bench: Bench) -> None:
    incident, _ = await bench.attach("d4d4d4d4d4")
    again, created_again = await bench.attach("d4d4d4d4d4")  # a retried attach
    assert (again, created_again) == (incident, True)
    joined, joined_created = await bench.attach("e5e5e5e5e5")  # shares the entity
    assert (joined, joined_created) == (incident, False)
    handle = bench.handle(incident)
    for _ in range(3):
        await handle.signal(SIGNAL_ALERT, alert("e5e5e5e5e5"))
    await bench.skip(timedelta(minutes=2))  # past the debounce
    view = await bench.until(incident, "assessed", lambda v: v.classification is not None)
    assert view.alerts_count == 2
    assert view.alert_groups[0].count == 2


async def test_a_requested_render_and_a_resolved_non_major_incident_closes(bench: Bench) -> None:
    incident, _ = await bench.attach("f6f6f6f6f6")
    handle = bench.handle(incident)
    await handle.signal(SIGNAL_RENDER, RenderRequest(stage="initial", by="ines", request_id="req-1"))
    view = await bench.until(incident, "the refusal", lambda v: bool(v.report_errors))
    assert view.report_errors[0].request_id == "req-1"
    assert "no report is due" in view.report_errors[0].error
    await bench.update(incident, status="resolved", description="false alarm")
    closed = await handle.result()
    assert closed.status is IncidentStatus.CLOSED
    stored = await get_incident(bench.search, bench.settings.namespace, incident)
    assert stored is not None
    assert stored.status is IncidentStatus.CLOSED
    assert stored.facts["description"].value == "false alarm"
    # The entity is free again: the next alert on it opens a new incident.
    other, created = await bench.attach("a7a7a7a7a7")
    assert created
    assert other != incident


async def test_figures_from_telemetry_feed_the_assessment(bench: Bench) -> None:
    # No telemetry in this clone: the figures activity finds nothing and says so.
    incident, _ = await bench.attach("b8b8b8b8b8", tags=["attack.t1499"], service="payments")
    await bench.skip(timedelta(minutes=2))
    view = await bench.until(incident, "assessed", lambda v: v.classification is not None)
    assert any("telemetry: no failed payment" in p for p in view.problems)
    rows = {r.name: r for r in view.figures}
    assert rows["critical_services_affected"].source == "catalogue"
    assert view.services == ["payments"]
    assert Decimal(rows["clients_total"].value) == 3000


async def test_a_long_history_continues_as_new_with_its_state_and_audit_chain(bench: Bench) -> None:
    incident = "INC-20261123-c0ffee"
    bench.started.add(incident)
    first = alert("c0ffee0000")
    start = IncidentStart(incident_id=incident, policy=IncidentPolicy(history_limit=100))
    handle = await bench.env.client.start_workflow(
        IncidentWorkflow.run,
        start,
        id=incident_workflow_id(incident),
        task_queue=bench.settings.temporal.task_queue,
        start_signal=SIGNAL_ALERT,
        start_signal_args=[first],
    )
    for i in range(1, 150):  # each a signal event in the history: more than its limit of 100
        await handle.signal(SIGNAL_ALERT, alert(f"c0ffee{i:04d}"))
    await bench.update(incident, **MAJOR)
    await bench.skip(timedelta(minutes=2))
    view = await bench.until(incident, "every alert, major", lambda v: v.alerts_count == 150 and _major(v))
    assert view.alert_groups[0].count == 150
    current = await bench.handle(incident).describe()
    assert current.run_id != handle.result_run_id, "the workflow continued as new"
    await bench.update(incident, costs_eur="300000")
    await bench.until(
        incident, "the update after continue-as-new", lambda v: v.facts["costs_eur"].value == "300000"
    )
    # The round's records go out in one write at its end, after the view shows the update.
    for _ in range(100):
        await bench.idle()
        report = await verify(bench.search, bench.settings.namespace, stream=incident_workflow_id(incident))
        if report.records >= 6:
            break
        await asyncio.sleep(0.05)
    assert report.ok
    assert report.records >= 6  # opened, updated, alerts added, classified, rendered, updated again


async def test_a_quiet_non_major_incident_closes_after_the_idle_period(bench: Bench) -> None:
    incident, _ = await bench.attach("d9d9d9d9d9")
    await bench.until(incident, "saved", lambda v: v.alerts_count == 1)
    await bench.skip(timedelta(days=6))
    assert (await bench.handle(incident).describe()).status == WorkflowExecutionStatus.RUNNING
    await bench.skip(timedelta(days=1, minutes=5))
    closed = await bench.handle(incident).result()
    assert closed.status is IncidentStatus.CLOSED
    assert closed.classification is not None
    assert not closed.classification.major
