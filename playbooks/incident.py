"""Incident runbook: one incident, from its first alert until it closes.

1. Collect: alerts (each counted once), the containment actions' states, people's facts.
2. Measure and assess: figures from the telemetry, then the DORA classification (debounced: one assessment
   for a burst of alerts, at once for a person's update).
3. Classified major: render the initial notification draft, start the reporting clocks on durable timers,
   remind before each deadline, escalate a missed one; render each report when due or when asked.
4. Keep the incident document current. Close a major incident once its final report is submitted, another
   one when resolved or idle; continue as new (with the state) when the history grows.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from playbooks.calls import call

with workflow.unsafe.imports_passed_through():
    from soar.audit.trail import AuditTrail
    from soar.incidents import models as m
    from soar.incidents import state as st
    from soar.incidents.clock import clock_events, mark, next_clock, notification
    from soar.response.models import (
        SIGNAL_ACTION,
        SIGNAL_ALERT,
        SIGNAL_UPDATE,
        ActionStatus,
        IncidentAlert,
        Notification,
    )

ACTOR = "soar:incident"
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1), maximum_attempts=8
)
_CALL = timedelta(minutes=2)
_NOTIFY = timedelta(hours=1)  # a notification still failing after this is recorded as a problem
LOCAL_CALLS = "incident-local-calls"


@workflow.defn(name="Incident")
class IncidentWorkflow:
    """One incident's life: alerts, actions, facts, the DORA classification and its reporting clocks."""

    @workflow.init
    def __init__(self, start: st.IncidentStart) -> None:
        now = workflow.now()
        self._s = start.state or st.new_state(
            start.incident_id, workflow.info().workflow_id, start.policy, now
        )
        self._s.policy = start.policy
        # Histories from before called figures, save, render and notify as activities.
        self._local = workflow.patched(LOCAL_CALLS)
        self._trail = AuditTrail.for_workflow(start.trail, new_stream=True, batched=self._local)
        self._wake = False
        self._updates: list[tuple[m.IncidentUpdate, list[str]]] = []  # to audit from the main loop
        self._tasks: list[asyncio.Task[None]] = []

    @workflow.signal(name=SIGNAL_ALERT)
    def alert(self, alert: IncidentAlert) -> None:
        """An alert joins (a second signal of the same alert is ignored)."""
        quiet = self._s.dirty_since is None
        if st.add_alert(self._s, alert, workflow.now()) and quiet:
            self._wake = True  # start the debounce timer; later alerts of the burst only accumulate

    @workflow.signal(name=SIGNAL_ACTION)
    def action(self, status: ActionStatus) -> None:
        """A containment action changed state."""
        st.apply_action(self._s, status, workflow.now())
        self._wake = True

    @workflow.signal(name=SIGNAL_UPDATE)
    def update(self, update: m.IncidentUpdate) -> None:
        """A person's facts (``FIELD=VALUE``); re-assessed at once."""
        refused = st.apply_update(self._s, update, workflow.now())
        self._updates.append((update, refused))
        self._wake = True

    @workflow.signal(name=m.SIGNAL_RENDER)
    def render(self, request: m.RenderRequest) -> None:
        """Render a report stage now."""
        self._s.renders.append(request)
        self._wake = True

    @workflow.query(name=m.QUERY_STATE)
    def state(self) -> m.IncidentView:
        """The incident as it stands."""
        return self._s.view

    @workflow.run
    async def run(self, start: st.IncidentStart) -> m.IncidentView:
        """Run the incident until it closes (or continue as new)."""
        s = self._s
        if start.state is None:
            await self._audit(ACTOR, "incident.opened", result={"opened_at": s.view.opened_at.isoformat()})
        while True:
            self._wake = False  # signals arriving from here on wake the next sleep at once
            await self._audit_updates()
            if self._assessment_due():
                await self._assess()
            await self._requested_renders()
            await self._clocks()
            if s.save_pending:
                await self._save()
            if (reason := st.close_reason(s, workflow.now())) is not None:
                return await self._close(reason)
            if self._history_long():
                await self._settle_tasks()
                await self._audit_updates()
                await self._trail.flush()
                workflow.continue_as_new(
                    st.IncidentStart(
                        incident_id=s.view.incident_id, policy=s.policy, state=s, trail=self._trail.state()
                    )
                )
            await self._trail.flush()  # one write for the records of this round
            await self._sleep()

    # -- the steps ---------------------------------------------------------------------------------

    def _assessment_due(self) -> bool:
        s = self._s
        if s.reassess_now:
            return True
        return s.dirty_since is not None and workflow.now() >= s.dirty_since + s.policy.debounce

    async def _assess(self) -> None:
        s, now = self._s, workflow.now()
        if s.figures_stale and s.view.first_alert_at and s.view.last_alert_at:
            spec = m.FiguresInput(
                incident_id=s.view.incident_id, first_alert_at=s.view.first_alert_at,
                last_alert_at=s.view.last_alert_at, sources=s.sources, services=s.view.services,
            )  # fmt: skip
            try:
                s.figures = await call(
                    m.FIGURES, spec, m.TelemetryFigures, local=self._local, attempt=_CALL, retry=_RETRY
                )
                s.figures_stale = False
                st.run_problem(s, "", "figures")
            except ActivityError as exc:
                st.run_problem(s, str(exc.cause or exc), "figures")
        try:
            out = await workflow.execute_local_activity(
                m.ASSESS,
                st.facts_for(s, now),
                result_type=m.AssessOutput,
                start_to_close_timeout=_CALL,
                retry_policy=_RETRY,
            )
        except ActivityError as exc:
            st.run_problem(s, str(exc.cause or exc), "assessment")
            s.dirty_since, s.reassess_now = None, False
            return
        st.run_problem(s, "", "assessment")
        first_major = st.apply_assessment(s, out)
        await self._audit_alerts()
        await self._audit_classification()
        if first_major:
            await self._render_stage("initial", "classified major: the initial notification draft")

    async def _render_stage(
        self, stage: m.ReportStage, reason: str, request: m.RenderRequest | None = None
    ) -> None:
        s, now = self._s, workflow.now()
        request_id = request.request_id if request else None
        spec = m.RenderInput(facts=st.facts_for(s, now), stage=stage, reason=reason, request_id=request_id)
        try:
            out = await call(m.RENDER, spec, m.RenderOutput, local=self._local, attempt=_CALL, retry=_RETRY)
        except ActivityError as exc:
            out = m.RenderOutput(error=f"rendering failed: {exc.cause or exc}")
        st.record_render(s, stage, out, now, request_id)
        actor = request.by if request else ACTOR
        if out.record is not None:
            files = out.record.files
            result = {
                "stage": stage,
                "sha256": out.record.sha256,
                "json": files.get("json", ""),
                "reason": reason,
            }
            await self._audit(actor, "report.rendered", input=spec, result=result)

    async def _requested_renders(self) -> None:
        while self._s.renders:
            request = self._s.renders.pop(0)
            await self._render_stage(request.stage, f"requested by {request.by}", request)

    async def _clocks(self) -> None:
        s, now = self._s, workflow.now()
        for event in clock_events(s.view.deadlines, now, s.policy.remind_before):
            note = notification(s.view.incident_id, s.view.title, event, now)
            self._tasks.append(asyncio.create_task(self._notify(note)))
            mark(s.view.deadlines, event, now)
            s.save_pending = True
            if event.kind == "reminder":
                await self._render_stage(event.report, f"due at {event.due.isoformat()}")
            else:
                result = {"report": event.report, "due": event.due.isoformat()}
                await self._audit(ACTOR, "deadline.missed", result=result)

    async def _notify(self, note: Notification) -> None:
        try:
            await call(
                m.NOTIFY,
                note,
                type(None),
                local=self._local,
                attempt=_CALL,
                retry=RetryPolicy(maximum_interval=timedelta(minutes=1)),
                give_up=_NOTIFY,
            )
        except ActivityError as exc:
            st.run_problem(self._s, str(exc.cause or exc), f"notification {note.key}")

    async def _save(self) -> None:
        s = self._s
        s.view.updated_at = workflow.now()
        try:
            await call(
                m.SAVE, m.SaveInput(view=s.view), type(None), local=self._local, attempt=_CALL, retry=_RETRY
            )
            s.save_pending = False
        except ActivityError:
            s.save_pending = True  # the next round tries again; the query shows the state meanwhile

    async def _close(self, reason: str) -> m.IncidentView:
        s = self._s
        await self._settle_tasks()
        s.view.status, s.view.closed_at = m.IncidentStatus.CLOSED, workflow.now()
        await self._audit(ACTOR, "incident.closed", result={"reason": reason, "alerts": s.view.alerts_count})
        await self._trail.flush()
        await self._save()
        return s.view

    async def _sleep(self) -> None:
        s, now = self._s, workflow.now()
        wake: list[datetime] = []
        if s.dirty_since is not None:
            wake.append(s.dirty_since + s.policy.debounce)
        if (clock := next_clock(s.view.deadlines, now, s.policy.remind_before)) is not None:
            wake.append(clock)
        if not s.major:
            wake.append(s.view.last_activity_at + s.policy.idle_close)
        if s.save_pending:
            wake.append(now + s.policy.debounce)  # a failed save is tried again
        timeout = max(min(wake) - now, timedelta(seconds=1)) if wake else None
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._wake, timeout=timeout)

    def _history_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self._s.policy.history_limit
        )

    async def _settle_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        if tasks:
            await asyncio.gather(*tasks)

    # -- the audit trail ---------------------------------------------------------------------------

    async def _audit(
        self, actor: str, action: str, *, input: object = None, result: Mapping[str, object] | None = None
    ) -> None:
        """The one place this workflow writes its audit trail (stream: the workflow id), flushed each round."""
        await self._trail.record(
            actor,
            action,
            self._s.view.incident_id,
            input=input,
            result=dict(result) if result else None,
            defer=True,
        )

    async def _audit_updates(self) -> None:
        while self._updates:
            update, refused = self._updates.pop(0)
            result = {"fields": sorted(update.values), "refused": refused}
            await self._audit(update.by, "incident.updated", input=update, result=result)

    async def _audit_alerts(self) -> None:
        s = self._s
        if s.view.alerts_count > s.audited_alerts:
            result = {"added": s.view.alerts_count - s.audited_alerts, "total": s.view.alerts_count}
            await self._audit(ACTOR, "incident.alert_added", result=result)
            s.audited_alerts = s.view.alerts_count

    async def _audit_classification(self) -> None:
        s = self._s
        c = s.view.classification
        if c is None or c.major == s.audited_major:
            return
        initial = next((d.due for d in s.view.deadlines if d.report == "initial"), None)
        result = {
            "major": c.major, "rule": c.rule, "thresholds": list(c.thresholds),
            "classified_at": c.classified_at.isoformat() if c.classified_at else None,
            "initial_due": initial.isoformat() if initial else None,
        }  # fmt: skip
        await self._audit(ACTOR, "incident.classified", result=result)
        s.audited_major = c.major
