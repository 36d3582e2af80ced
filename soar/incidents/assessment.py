"""The DORA view of an incident: its assessment built from telemetry, settings, the catalogue and people.

Every input of the assessment is shown with where it came from (a :class:`FigureRow`): measured in the
telemetry, configured in settings, read from the service catalogue, given by a person in an update, or a
default soar chose. People's values win over the others, so a wrong measurement can always be corrected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from soar.dora.assessment import Assessment
from soar.dora.classification import Classification, classify
from soar.dora.deadlines import Deadlines, compute_deadlines
from soar.dora.enums import Discovery
from soar.dora.incident import DoraIncident, RootCause
from soar.errors import AssessmentError, InputError
from soar.incidents.models import (
    AssessOutput,
    ClassificationView,
    CriterionView,
    DeadlineView,
    FigureRow,
    FigureSource,
    IncidentFacts,
    TelemetryFigures,
)
from soar.incidents.updates import parse_value, targets
from soar.response.settings import DoraSettings

_REFERENCES = (
    ("clients_affected", "clients_total"),
    ("transactions_affected", "transactions_daily_avg"),
    ("transaction_value_affected_eur", "transaction_value_daily_avg_eur"),
    ("counterparts_affected", "counterparts_total"),
)
_HOURS = Decimal(60)


def _text(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@dataclass
class Built:
    """The pieces of an incident's DORA view as built, before classification."""

    assessment: dict[str, Any] = field(default_factory=dict)
    incident: dict[str, Any] = field(default_factory=dict)
    root_cause: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, FigureRow] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def put(self, where: str, name: str, value: Any, source: FigureSource, detail: str = "") -> None:
        """Set one input and record where it came from."""
        {"assessment": self.assessment, "incident": self.incident, "root_cause": self.root_cause}[where][
            name
        ] = value
        label = f"root_cause.{name}" if where == "root_cause" else name
        self.rows[label] = FigureRow(name=label, value=_text(value), source=source, detail=detail)


def _from_settings(b: Built, dora: DoraSettings) -> None:
    b.put("assessment", "entity_type", dora.entity_type, "settings", "response.dora.entity_type")
    b.put("assessment", "member_state", dora.member_state, "settings", "response.dora.member_state")
    if dora.entity is not None:
        b.assessment["entity"] = dora.entity
    for name in ("clients_total", "transactions_daily_avg", "transaction_value_daily_avg_eur"):
        if (value := getattr(dora, name)) is not None:
            b.put(
                "assessment",
                name,
                value,
                "settings",
                f"response.dora.{name}: the reference of RTS-C Art. 9(1)",
            )


def _from_telemetry(b: Built, fig: TelemetryFigures) -> None:
    if fig.start is None or fig.end is None:
        b.problems.append(f"telemetry: {'; '.join(fig.notes)}")
        return
    how = fig.payments_how
    if how:
        b.put("assessment", "clients_affected", fig.clients_affected, "telemetry", f"distinct clients: {how}")
        b.put(
            "assessment",
            "transactions_affected",
            fig.transactions_affected,
            "telemetry",
            f"distinct transactions: {how}",
        )
        b.put(
            "assessment", "transaction_value_affected_eur", fig.transaction_value_affected_eur, "telemetry",
            f"sum of one amount per failed transaction: {how}",
        )  # fmt: skip
        outside = f"; outside the EU/EEA: {', '.join(fig.other_countries)}" if fig.other_countries else ""
        b.put(
            "assessment", "member_states_impacted", tuple(fig.member_states), "telemetry",
            f"countries of the affected clients {fig.clients_by_country}{outside}",
        )  # fmt: skip
    b.put("assessment", "occurred_at", fig.start, "telemetry", "first failure")
    hours = Decimal(int((fig.end - fig.start).total_seconds())) / 3600
    b.put(
        "assessment", "duration_hours", hours.quantize(Decimal("0.01")), "telemetry",
        "first to last failure (an estimate until the incident is resolved)",
    )  # fmt: skip
    if fig.downtime_minutes is not None:
        down = (fig.downtime_minutes / _HOURS).quantize(Decimal("0.01"))
        b.rows["downtime_hours"] = FigureRow(
            name="downtime_hours", value=str(down), source="telemetry", detail=fig.downtime_how
        )


def _from_catalogue(b: Built, services: list[str], critical: dict[str, bool]) -> None:
    hit = sorted(s for s in services if critical.get(s))
    downtime = b.rows.get("downtime_hours")
    if hit:
        why = f"catalogue: {', '.join(hit)} support(s) a critical or important function"
        b.put("assessment", "critical_services_affected", True, "catalogue", why)
        if downtime is not None:
            b.put(
                "assessment",
                "downtime_critical_hours",
                Decimal(downtime.value),
                "telemetry",
                f"downtime of {', '.join(hit)}",
            )
    elif services:
        b.problems.append(
            f"no service of the incident ({', '.join(services)}) supports a critical function in the catalogue: "
            "the gate and the downtime of Art. 9(3)(b) need critical_services_affected / downtime_critical_hours"
        )


def _from_people(b: Built, facts: IncidentFacts) -> None:
    for name, fact in sorted(facts.facts.items()):
        target = targets().get(name)
        if target is None or target.where == "workflow":
            continue
        try:
            value = parse_value(name, fact.value, fact.at)
        except InputError as exc:
            b.problems.append(f"update by {fact.by}: {exc}")
            continue
        b.put(target.where, target.name, value, "update", f"by {fact.by} at {fact.at.isoformat()}")


def _defaults(b: Built, facts: IncidentFacts) -> None:
    if "description" not in b.incident:
        rules = "; ".join(facts.rules[:5]) or "no rule"
        text = f"{facts.title}: {facts.alerts_count} alert(s) ({rules}) on {', '.join(facts.services) or 'no catalogue service'}"
        b.put("incident", "description", text, "soar", "from the alerts; set description= to replace it")
    if "discovery" not in b.incident:
        b.put(
            "incident",
            "discovery",
            Discovery.MONITORING_SYSTEMS,
            "default",
            "alerts of soar's detection rules",
        )
    if "business_continuity_activated" not in b.incident:
        b.put(
            "incident",
            "business_continuity_activated",
            False,
            "default",
            "set business_continuity_activated=true if it was",
        )


def _references(b: Built) -> None:
    for affected, total in _REFERENCES:
        if b.assessment.get(affected) and not b.assessment.get(total):
            b.problems.append(
                f"{affected} is {b.assessment[affected]} but {total} is not known (settings response.dora.{total} "
                f"or update {total}=): that share of RTS-C Art. 9(1) is not judged"
            )
            b.assessment[affected] = 0


def build(
    facts: IncidentFacts, dora: DoraSettings, critical: dict[str, bool]
) -> tuple[DoraIncident | None, Built]:
    """The incident as soar.dora sees it, and how each input was found.

    Args:
        facts: The incident's figures, people's facts and clock.
        dora: The reporting entity and reference figures.
        critical: Whether each catalogue service supports a critical or important function.

    Returns:
        The incident (None when the inputs do not make a valid assessment; the problems say why) and the
        inputs with their provenance.
    """
    b = Built()
    _from_settings(b, dora)
    if facts.figures is not None:
        _from_telemetry(b, facts.figures)
    _from_catalogue(b, facts.services, critical)
    _from_people(b, facts)
    _defaults(b, facts)
    _references(b)
    b.assessment |= {
        "aware_at": facts.aware_at,
        "classified_at": facts.classified_at or facts.now,
        "reference": facts.incident_id,
    }
    try:
        assessment = Assessment.model_validate(b.assessment)
        root = RootCause.model_validate(b.root_cause) if b.root_cause else None
        incident = DoraIncident.model_validate(
            {
                **b.incident,
                "reference": facts.incident_id,
                "assessment": assessment,
                "submissions": facts.submissions,
                "root_cause": root,
            }
        )
    except (AssessmentError, ValueError) as exc:
        b.problems.append(f"the assessment cannot be built: {exc}".splitlines()[0])
        return None, b
    return incident, b


def classification_view(
    c: Classification, now: datetime, classified_at: datetime | None
) -> ClassificationView:
    """The classification with one reason per criterion."""
    criteria = [
        CriterionView(
            criterion=r.criterion.value, label=r.label, article=r.article, met=r.met, reason=r.sentence()
        )
        for r in c.criteria
    ]
    thresholds = [t.value for t in c.thresholds]
    return ClassificationView(
        major=c.major,
        rule=c.rule,
        assessed_at=now,
        classified_at=classified_at,
        thresholds=thresholds,
        criteria=criteria,
    )


def deadline_views(d: Deadlines) -> list[DeadlineView]:
    """The three deadlines as the incident shows them."""
    return [
        DeadlineView(report=x.report, due=x.due, status=x.status, explanation=x.explanation) for x in d.all()
    ]


def assess(facts: IncidentFacts, dora: DoraSettings, critical: dict[str, bool]) -> AssessOutput:
    """Classify the incident (RTS-C Art. 8) and, once major, compute its deadlines (RTS-R Art. 5)."""
    incident, b = build(facts, dora, critical)
    rows = list(b.rows.values())
    if incident is None:
        return AssessOutput(figures=rows, problems=b.problems)
    c = classify(incident.assessment)
    classified_at = facts.classified_at or (facts.now if c.major else None)
    out = AssessOutput(
        classification=classification_view(c, facts.now, classified_at), figures=rows, problems=b.problems
    )
    if classified_at is not None:
        out.deadlines = deadline_views(compute_deadlines(incident.assessment, facts.submissions, facts.now))
        if not c.major:
            out.problems.append(
                f"classified major at {classified_at.isoformat()} but no longer meets RTS-C Art. 8: if it at no time "
                "did, report a reclassification as non-major (ITS Art. 5)"
            )
    return out
