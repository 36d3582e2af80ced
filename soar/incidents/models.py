"""What crosses the incident boundaries: activity inputs and outputs, signal payloads, the incident document."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from soar.dora.incident import Submissions
from soar.response.models import ActionStatus, IncidentAttachment

ReportStage = Literal["initial", "intermediate", "final"]
FigureSource = Literal["telemetry", "settings", "catalogue", "update", "default", "soar"]
STAGES: tuple[ReportStage, ...] = ("initial", "intermediate", "final")
SIGNAL_RENDER = "render"  # incident: render a report now (a RenderRequest)
QUERY_STATE = "state"  # incident: the IncidentView
# Activity names: the workflow calls them by name, so it imports no activity code.
ATTACH = "incident.attach"
SAVE = "incident.save"
FIGURES = "incident.figures"
ASSESS = "incident.assess"
RENDER = "incident.render"
NOTIFY = "response.notify"


class IncidentStatus(StrEnum):
    """Where an incident is in its life."""

    OPEN = "open"
    RESOLVED = "resolved"  # people said so; a major incident stays until its final report is submitted
    CLOSED = "closed"  # the workflow ended; a new alert on its entities opens a new incident


class AttachResult(IncidentAttachment):
    """Output of ``incident.attach``: the incident the alert joined, whether the alert opened it, its workflow."""

    workflow_id: str = ""


class IncidentPolicy(BaseModel):
    """The timings of one incident workflow, fixed from settings when it starts."""

    model_config = ConfigDict(frozen=True)
    remind_before: timedelta = timedelta(hours=1)
    idle_close: timedelta = timedelta(days=7)
    debounce: timedelta = timedelta(minutes=1)
    history_limit: int = Field(default=5_000, ge=100)


class IncidentUpdate(BaseModel):
    """A ``SIGNAL_UPDATE`` payload: facts a person gives, ``FIELD=VALUE`` pairs as typed (validated by the CLI)."""

    model_config = ConfigDict(frozen=True)
    by: str = Field(min_length=1)
    at: AwareDatetime
    values: dict[str, str]


class RenderRequest(BaseModel):
    """A ``SIGNAL_RENDER`` payload: render one report stage now."""

    model_config = ConfigDict(frozen=True)
    stage: ReportStage
    by: str = Field(min_length=1)
    request_id: str = Field(min_length=1)


class SourceRef(BaseModel):
    """The source event of an alert, kept as a sample to learn the incident's signature from."""

    model_config = ConfigDict(frozen=True)
    index: str
    id: str


class TelemetryFigures(BaseModel):
    """Output of ``incident.figures``: impact measured in the telemetry by the search engine.

    Attributes:
        start: First failure of the incident's episodes (occurrence), None when nothing was found.
        end: Last failure.
        clients_affected: Distinct clients with a failed payment (exact, composite paging).
        transactions_affected: Distinct failed transactions (exact).
        transaction_value_affected_eur: Sum of the failed transactions' amounts (one amount per transaction).
        member_states: EU/EEA states of the affected clients; ``other_countries`` holds the rest.
        downtime_minutes: Sum of the failure episodes of the service's upstreams in Envoy (None: no data).
        notes: How each figure was found, in words.
    """

    computed_at: AwareDatetime
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    clients_affected: int = 0
    transactions_affected: int = 0
    transaction_value_affected_eur: Decimal = Decimal(0)
    member_states: list[str] = Field(default_factory=list)
    other_countries: list[str] = Field(default_factory=list)
    clients_by_country: dict[str, int] = Field(default_factory=dict)
    downtime_minutes: Decimal | None = None
    error_codes: list[str] = Field(default_factory=list)
    app_services: list[str] = Field(default_factory=list)
    workloads: list[str] = Field(default_factory=list)
    payments_how: str = ""
    downtime_how: str = ""
    notes: list[str] = Field(default_factory=list)


class FiguresInput(BaseModel):
    """Input of ``incident.figures``."""

    incident_id: str
    first_alert_at: AwareDatetime
    last_alert_at: AwareDatetime
    sources: list[SourceRef]
    services: list[str] = Field(default_factory=list)


class Fact(BaseModel):
    """A value a person gave, with who and when."""

    value: str
    by: str
    at: AwareDatetime


class FigureRow(BaseModel):
    """One input of the assessment as shown to people: its value and where it came from."""

    name: str
    value: str
    source: FigureSource
    detail: str = ""


class CriterionView(BaseModel):
    """One RTS-C criterion as evaluated, with its reasons."""

    criterion: str
    label: str
    article: str
    met: bool
    reason: str


class ClassificationView(BaseModel):
    """The latest classification: major or not, the rule applied, every criterion's reasons."""

    major: bool
    rule: str
    assessed_at: AwareDatetime
    classified_at: AwareDatetime | None = None
    thresholds: list[str] = Field(default_factory=list)
    criteria: list[CriterionView] = Field(default_factory=list)


class DeadlineView(BaseModel):
    """One report's deadline, its clock state, and what the workflow did about it."""

    report: ReportStage
    due: AwareDatetime | None = None
    status: str = "pending"
    explanation: str = ""
    reminded_at: AwareDatetime | None = None
    escalated_at: AwareDatetime | None = None


class ReportRecord(BaseModel):
    """A rendered report: its files (extension -> path) and the SHA-256 of its IR JSON."""

    stage: ReportStage
    rendered_at: AwareDatetime
    files: dict[str, str]
    sha256: str
    reason: str = ""
    request_id: str | None = None


class ReportError(BaseModel):
    """A report that could not be rendered, and why (usually a mandatory template field still missing)."""

    stage: ReportStage
    at: AwareDatetime
    error: str
    request_id: str | None = None


class AlertGroup(BaseModel):
    """The alerts of one rule in the incident."""

    rule_id: str
    rule_title: str
    severity: str
    count: int = 0
    first_at: AwareDatetime
    last_at: AwareDatetime


class IncidentView(BaseModel):
    """The incident document (``soar-incidents-<ns>``) and the answer of the workflow's ``state`` query."""

    incident_id: str
    title: str = ""
    status: IncidentStatus = IncidentStatus.OPEN
    opened_at: AwareDatetime
    updated_at: AwareDatetime
    last_activity_at: AwareDatetime
    closed_at: AwareDatetime | None = None
    alerts_count: int = 0
    first_alert_at: AwareDatetime | None = None
    last_alert_at: AwareDatetime | None = None
    alert_groups: list[AlertGroup] = Field(default_factory=list)
    entities: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    priority: int = 4
    actions: list[ActionStatus] = Field(default_factory=list)
    facts: dict[str, Fact] = Field(default_factory=dict)
    figures: list[FigureRow] = Field(default_factory=list)
    classification: ClassificationView | None = None
    deadlines: list[DeadlineView] = Field(default_factory=list)
    submissions: Submissions = Submissions()
    reports: list[ReportRecord] = Field(default_factory=list)
    report_errors: list[ReportError] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    workflow_id: str = ""


class IncidentFacts(BaseModel):
    """Everything the DORA assessment of an incident is built from (input of ``incident.assess``)."""

    incident_id: str
    title: str
    aware_at: AwareDatetime
    classified_at: AwareDatetime | None = None
    now: AwareDatetime
    services: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    alerts_count: int = 0
    figures: TelemetryFigures | None = None
    facts: dict[str, Fact] = Field(default_factory=dict)
    submissions: Submissions = Submissions()


class AssessOutput(BaseModel):
    """Output of ``incident.assess``: the classification, deadlines and figure provenance, or why not."""

    classification: ClassificationView | None = None
    deadlines: list[DeadlineView] = Field(default_factory=list)
    figures: list[FigureRow] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)


class RenderInput(BaseModel):
    """Input of ``incident.render``."""

    facts: IncidentFacts
    stage: ReportStage
    reason: str
    request_id: str | None = None


class RenderOutput(BaseModel):
    """Output of ``incident.render``: the record of the files written, or the field that stopped it."""

    record: ReportRecord | None = None
    error: str | None = None


class SaveInput(BaseModel):
    """Input of ``incident.save``."""

    view: IncidentView
