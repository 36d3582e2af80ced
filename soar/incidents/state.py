"""The incident workflow's state and its transitions (pure, deterministic): what each signal does to it.

The workflow owns one :class:`IncidentState`; it carries it across continue-as-new, so the state stays
small: alert ids are kept as short digests for de-duplication, alerts as per-rule counts, source events
as a bounded sample.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field, field_serializer

from soar.audit.models import TrailState
from soar.errors import InputError
from soar.incidents.clock import merge_deadlines
from soar.incidents.models import (
    AlertGroup,
    AssessOutput,
    Fact,
    IncidentFacts,
    IncidentPolicy,
    IncidentStatus,
    IncidentUpdate,
    IncidentView,
    RenderOutput,
    RenderRequest,
    ReportError,
    ReportStage,
    SourceRef,
    TelemetryFigures,
)
from soar.incidents.updates import parse_value, targets
from soar.response.models import ActionStatus, IncidentAlert

MAX_ENTITIES = 200
MAX_SOURCES_PER_RULE = 5
MAX_SOURCES = 60
MAX_PROBLEMS = 20
MAX_REPORTS = 30


def digest(alert_id: str) -> str:
    """A short stand-in for an alert id, for de-duplication."""
    return hashlib.sha256(alert_id.encode()).hexdigest()[:20]


class IncidentState(BaseModel):
    """Everything the incident workflow remembers; the input of its continue-as-new."""

    view: IncidentView
    policy: IncidentPolicy = IncidentPolicy()
    seen: set[str] = Field(default_factory=set)
    sources: list[SourceRef] = Field(default_factory=list)
    sampled: dict[str, int] = Field(default_factory=dict)
    figures: TelemetryFigures | None = None
    figures_stale: bool = False
    dirty_since: AwareDatetime | None = None
    reassess_now: bool = False
    save_pending: bool = True
    renders: list[RenderRequest] = Field(default_factory=list)
    update_problems: list[str] = Field(default_factory=list)
    assess_problems: list[str] = Field(default_factory=list)
    run_problems: list[str] = Field(default_factory=list)  # failed figures, notifications: kept until fixed
    audited_major: bool | None = None  # the classification last written to the audit trail
    audited_alerts: int = 0  # alerts counted in the audit trail so far

    @field_serializer("seen")
    def _sorted(self, seen: set[str]) -> list[str]:
        return sorted(seen)  # a stable payload for continue-as-new

    @property
    def classified_at(self) -> datetime | None:
        """When the incident was first classified major (None: not yet)."""
        c = self.view.classification
        return c.classified_at if c else None

    @property
    def major(self) -> bool:
        """Whether the incident was ever classified major (the clocks run from then on)."""
        return self.classified_at is not None


def new_state(incident_id: str, workflow_id: str, policy: IncidentPolicy, now: datetime) -> IncidentState:
    """The state of a new incident, opened (and made aware of) at ``now``, in whole seconds (field 2.2)."""
    now = now.replace(microsecond=0)
    view = IncidentView(
        incident_id=incident_id, opened_at=now, updated_at=now, last_activity_at=now, workflow_id=workflow_id
    )
    return IncidentState(view=view, policy=policy)


def _group(view: IncidentView, alert: IncidentAlert) -> None:
    for g in view.alert_groups:
        if g.rule_id == alert.rule_id:
            g.count += 1
            g.first_at, g.last_at = min(g.first_at, alert.at), max(g.last_at, alert.at)
            return
    view.alert_groups.append(
        AlertGroup(
            rule_id=alert.rule_id,
            rule_title=alert.rule_title,
            severity=alert.severity,
            count=1,
            first_at=alert.at,
            last_at=alert.at,
        )
    )


def add_alert(state: IncidentState, alert: IncidentAlert, now: datetime) -> bool:
    """Count an alert into the incident; False for an alert already counted (a retried attach signals twice)."""
    key = digest(alert.alert_id)
    if key in state.seen:
        return False
    state.seen.add(key)
    v = state.view
    v.alerts_count += 1
    _group(v, alert)
    v.first_alert_at = min(v.first_alert_at or alert.at, alert.at)
    v.last_alert_at = max(v.last_alert_at or alert.at, alert.at)
    if alert.priority < v.priority or not v.title:
        v.priority, v.title = min(v.priority, alert.priority), alert.rule_title
    for entity in alert.entities:
        if entity.key not in v.entities and len(v.entities) < MAX_ENTITIES:
            v.entities.append(entity.key)
    if alert.service and alert.service not in v.services:
        v.services.append(alert.service)
    taken = state.sampled.get(alert.rule_id, 0)
    if taken < MAX_SOURCES_PER_RULE and len(state.sources) < MAX_SOURCES:
        state.sources.append(SourceRef(index=alert.source_index, id=alert.source_id))
        state.sampled[alert.rule_id] = taken + 1
    v.last_activity_at = now
    state.figures_stale = True
    state.dirty_since = state.dirty_since or now
    state.save_pending = True
    return True


def apply_action(state: IncidentState, status: ActionStatus, now: datetime) -> None:
    """Record a containment action's new state (an older status never replaces a newer one)."""
    actions = state.view.actions
    for i, known in enumerate(actions):
        if known.action_id == status.action_id:
            if status.updated_at >= known.updated_at:
                actions[i] = status
            break
    else:
        actions.append(status)
    state.view.last_activity_at = now
    state.save_pending = True


def _workflow_field(state: IncidentState, name: str, value: object, at: datetime) -> None:
    v = state.view
    if name == "status":
        v.status = IncidentStatus(str(value))
    elif name == "title":
        v.title = str(value)
    elif isinstance(value, datetime):
        subs = v.submissions
        if name == "submitted.initial":
            v.submissions = subs.model_copy(update={"initial_at": value})
        elif name == "submitted.intermediate":
            v.submissions = subs.model_copy(update={"intermediate_at": (*subs.intermediate_at, value)})
        else:
            v.submissions = subs.model_copy(update={"final_at": value})


def apply_update(state: IncidentState, update: IncidentUpdate, now: datetime) -> list[str]:
    """Take a person's facts; returns the fields refused (each with its reason), the others apply."""
    refused: list[str] = []
    for name, raw in update.values.items():
        try:
            value = parse_value(name, raw, update.at)
        except InputError as exc:
            refused.append(f"update by {update.by}: {exc}")
            continue
        if targets()[name].where == "workflow":
            _workflow_field(state, name, value, update.at)
        else:
            state.view.facts[name] = Fact(value=raw, by=update.by, at=update.at)
    state.update_problems = (state.update_problems + refused)[-MAX_PROBLEMS:]
    refresh_problems(state)
    state.view.last_activity_at = now
    state.reassess_now = state.save_pending = True
    return refused


def facts_for(state: IncidentState, now: datetime) -> IncidentFacts:
    """What the assessment of the incident is built from, at ``now`` (whole seconds: field 2.3 may be set from it)."""
    now = now.replace(microsecond=0)
    v = state.view
    return IncidentFacts(
        incident_id=v.incident_id,
        title=v.title or v.incident_id,
        aware_at=v.opened_at,
        classified_at=state.classified_at,
        now=now,
        services=list(v.services),
        rules=[g.rule_title for g in sorted(v.alert_groups, key=lambda g: -g.count)],
        alerts_count=v.alerts_count,
        figures=state.figures,
        facts=dict(v.facts),
        submissions=v.submissions,
    )


def apply_assessment(state: IncidentState, out: AssessOutput) -> bool:
    """Take a new assessment; True when it classifies the incident major for the first time."""
    v = state.view
    first = not state.major and out.classification is not None and out.classification.major
    if out.classification is not None:
        keep = state.classified_at
        v.classification = out.classification
        if keep is not None:
            v.classification.classified_at = keep
    v.deadlines = merge_deadlines(v.deadlines, out.deadlines) if state.major else []
    v.figures = out.figures
    state.assess_problems = out.problems
    refresh_problems(state)
    state.dirty_since, state.reassess_now, state.save_pending = None, False, True
    return first


def refresh_problems(state: IncidentState) -> None:
    """The view's problems: the assessment's, then refused updates, then failed steps of the workflow."""
    state.view.problems = (state.assess_problems + state.update_problems + state.run_problems)[-MAX_PROBLEMS:]
    state.save_pending = True


def run_problem(state: IncidentState, problem: str, key: str) -> None:
    """Record (or, with an empty ``problem``, clear) a failed step; ``key`` names the step, e.g. ``figures``."""
    kept = [p for p in state.run_problems if not p.startswith(f"{key}: ")]
    state.run_problems = ([*kept, f"{key}: {problem}"] if problem else kept)[-MAX_PROBLEMS:]
    refresh_problems(state)


def record_render(
    state: IncidentState, stage: ReportStage, out: RenderOutput, now: datetime, request_id: str | None
) -> None:
    """Keep a rendered report's record, or why it could not be rendered."""
    v = state.view
    if out.record is not None:
        v.reports = [*v.reports, out.record][-MAX_REPORTS:]
    else:
        error = ReportError(stage=stage, at=now, error=out.error or "not rendered", request_id=request_id)
        v.report_errors = [*v.report_errors, error][-MAX_REPORTS:]
    state.save_pending = True


def close_reason(state: IncidentState, now: datetime) -> str | None:
    """Why the incident closes now, or None.

    A major incident closes once its final report is submitted; another one when people resolve it, or
    after ``idle_close`` without alerts, actions or updates.
    """
    v = state.view
    if state.major:
        return "final report submitted" if v.submissions.final_at is not None else None
    if v.status is IncidentStatus.RESOLVED:
        return "resolved"
    if now >= v.last_activity_at + state.policy.idle_close:
        return f"idle for {state.policy.idle_close}"
    return None


class IncidentStart(BaseModel):
    """The incident workflow's input: its id and timings, and its state when continued as new."""

    incident_id: str
    policy: IncidentPolicy = IncidentPolicy()
    state: IncidentState | None = None
    trail: TrailState | None = None
