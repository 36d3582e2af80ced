"""The incident activities: grouping alerts, figures from telemetry, the DORA assessment, reports, saving."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from soar.config import Settings
from soar.engines.search import SearchClient
from soar.errors import AssessmentError, EngineError, SoarError
from soar.incidents.assessment import assess, build
from soar.incidents.measure import measure
from soar.incidents.models import (
    AssessOutput,
    AttachResult,
    FiguresInput,
    IncidentFacts,
    IncidentPolicy,
    IncidentView,
    RenderInput,
    RenderOutput,
    SaveInput,
    TelemetryFigures,
)
from soar.incidents.reports import render
from soar.incidents.state import IncidentStart
from soar.incidents.store import claim_entities, create_incident, ensure_indices, save_incident
from soar.response.catalogue import Catalogue
from soar.response.models import SIGNAL_ALERT, EntityKind, IncidentAlert, incident_workflow_id

WORKFLOW = "Incident"
_CLOSED_RETRIES = 3


def _application_error(exc: SoarError) -> ApplicationError:
    """An engine failure is retried by Temporal's policy; bad input never heals by retrying."""
    return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not isinstance(exc, EngineError))


def policy_of(settings: Settings) -> IncidentPolicy:
    """The incident workflow's timings from settings."""
    response = settings.response
    return IncidentPolicy(
        remind_before=response.dora.remind_before,
        idle_close=response.incident_idle_close,
        debounce=response.incident_debounce,
    )


class IncidentActivities:
    """Activities of the incident workflow (and the attach activity triage calls), holding their clients.

    Args:
        search: The search engine (incidents, claims, telemetry).
        temporal: The Temporal client incident workflows are started and signalled with.
        settings: soar's settings: namespace, task queue, grouping window, DORA profile, reports folder.
        catalogue: The service catalogue (critical functions; services of workloads).
    """

    def __init__(
        self, search: SearchClient, temporal: Client, settings: Settings, catalogue: Catalogue | None = None
    ) -> None:
        self.search = search
        self.temporal = temporal
        self.settings = settings
        self.catalogue = catalogue or Catalogue()
        self.reports_dir = settings.response.reports_dir or settings.data_dir / "reports"
        self._ready = False

    async def _ensure(self) -> None:
        if not self._ready:
            await ensure_indices(self.search, self.settings.namespace)
            self._ready = True

    def _related_services(self, alert: IncidentAlert) -> list[str]:
        names = []
        for entity in alert.entities:
            if entity.kind in (EntityKind.PRINCIPAL, EntityKind.SERVICE, EntityKind.WORKLOAD):
                service = self.catalogue.find(entity.value)
                if service is not None and service.name not in names:
                    names.append(service.name)
        return names

    @activity.defn(name="incident.attach")
    async def attach(self, alert: IncidentAlert) -> AttachResult:
        """Group the alert into an incident (joining or opening one) and signal the incident's workflow.

        The incident is found through entity claims (see :mod:`soar.incidents.store`); the workflow is
        started with the alert as its first signal if it does not run yet. A retry returns the same
        incident, and the workflow counts the alert once.
        """
        now = datetime.now(UTC)
        closed: frozenset[str] = frozenset()
        try:
            await self._ensure()
            for _ in range(_CLOSED_RETRIES):
                attached = await claim_entities(
                    self.search,
                    self.settings.namespace,
                    alert,
                    self.settings.response.grouping_window,
                    now,
                    related_services=self._related_services(alert),
                    closed=closed,
                )
                workflow_id = incident_workflow_id(attached.incident_id)
                if attached.created:
                    stub = IncidentView(
                        incident_id=attached.incident_id, opened_at=now, updated_at=now, last_activity_at=now,
                        title=alert.rule_title, workflow_id=workflow_id,
                    )  # fmt: skip
                    await create_incident(self.search, self.settings.namespace, stub)
                if await self._signal(attached.incident_id, alert):
                    return AttachResult(
                        incident_id=attached.incident_id, created=attached.created, workflow_id=workflow_id
                    )
                closed |= {attached.incident_id}  # its workflow ended between the claim and the signal
        except SoarError as exc:
            raise _application_error(exc) from exc
        raise ApplicationError(f"alert {alert.alert_id}: its incidents kept closing", type="IncidentClosed")

    async def _signal(self, incident_id: str, alert: IncidentAlert) -> bool:
        """Signal the incident's workflow, starting it if needed; False if that incident's workflow is closed."""
        try:
            await self.temporal.start_workflow(
                WORKFLOW,
                IncidentStart(incident_id=incident_id, policy=policy_of(self.settings)),
                id=incident_workflow_id(incident_id),
                task_queue=self.settings.temporal.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                start_signal=SIGNAL_ALERT,
                start_signal_args=[alert],
            )
        except WorkflowAlreadyStartedError:
            return False
        return True

    @activity.defn(name="incident.save")
    async def save(self, spec: SaveInput) -> None:
        """Write the incident's current view to ``soar-incidents-<namespace>``."""
        try:
            await self._ensure()
            await save_incident(self.search, self.settings.namespace, spec.view)
        except SoarError as exc:
            raise _application_error(exc) from exc

    @activity.defn(name="incident.figures")
    async def figures(self, spec: FiguresInput) -> TelemetryFigures:
        """Measure the incident in the telemetry (clients, transactions, value, Member States, downtime)."""
        try:
            return await measure(
                self.search, self.settings.namespace, spec, datetime.now(UTC), self._service_of
            )
        except SoarError as exc:
            raise _application_error(exc) from exc

    def _service_of(self, workload: str) -> str | None:
        service = self.catalogue.find(workload)
        return service.name if service else None

    def _critical(self) -> dict[str, bool]:
        return {s.name: s.critical_function for s in self.catalogue.services}

    @activity.defn(name="incident.assess")
    async def assess(self, facts: IncidentFacts) -> AssessOutput:
        """Classify the incident with soar.dora and compute its deadlines (pure: no I/O)."""
        return assess(facts, self.settings.response.dora, self._critical())

    @activity.defn(name="incident.render")
    async def render(self, spec: RenderInput) -> RenderOutput:
        """Render one report stage to JSON, HTML and Markdown files; a missing mandatory field is reported."""
        incident, built = build(spec.facts, self.settings.response.dora, self._critical())
        if incident is None:
            return RenderOutput(error="; ".join(built.problems) or "the assessment cannot be built")
        try:
            record = render(
                incident, spec.stage, self.reports_dir, spec.facts.now, spec.reason, spec.request_id
            )
        except AssessmentError as exc:
            return RenderOutput(error=f"{spec.stage} report: {exc}")
        except OSError as exc:
            raise ApplicationError(
                f"writing the {spec.stage} report: {exc.strerror}", type="OSError"
            ) from None
        return RenderOutput(record=record)

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for a worker."""
        return [self.attach, self.save, self.figures, self.assess, self.render]
