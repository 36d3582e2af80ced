"""Recurring incidents treated together as one major incident (RTS-C Art. 8(2))."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from soar.dora.assessment import Assessment
from soar.dora.calendar import add_months, zone
from soar.dora.classification import Classification, classify
from soar.dora.enums import EntityType
from soar.errors import AssessmentError

#: Entities under the simplified framework of DORA Art. 16(1) that the type alone identifies.
_ART16_TYPES = frozenset(
    {EntityType.EXEMPTED_PAYMENT_INSTITUTION, EntityType.EXEMPTED_ELECTRONIC_MONEY_INSTITUTION}
)


class Occurrence(BaseModel):
    """One non-major incident with its apparent root cause (DORA Art. 20, first subparagraph, point (b))."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    assessment: Assessment
    root_cause: str


class RecurringResult(BaseModel):
    """Whether a set of non-major incidents is one major incident under Art. 8(2), and why."""

    model_config = ConfigDict(frozen=True)
    major: bool
    applicable: bool
    occurrences: tuple[datetime, ...]
    combined: Classification | None
    explanation: tuple[str, ...]


def combine(assessments: Sequence[Assessment]) -> Assessment:
    """Aggregate several assessments into one for the 'collectively' test of Art. 8(2)(c).

    The texts do not say how to aggregate (dora.md open question 6). Chosen: affected counts, values,
    durations, downtimes and costs are summed; reference totals are the largest reported; booleans are
    OR-ed; reputational items and Member States are united; times are those of the first occurrence.
    """
    first = min(assessments, key=lambda a: a.occurred_at or a.aware_at)

    def total(name: str) -> Decimal:
        return sum((Decimal(getattr(a, name)) for a in assessments), Decimal(0))

    def largest(name: str) -> Decimal | None:
        values = [getattr(a, name) for a in assessments if getattr(a, name) is not None]
        return max(values) if values else None

    def any_of(name: str) -> bool:
        return any(getattr(a, name) for a in assessments)

    data = first.model_dump()
    for name in ("clients_affected", "counterparts_affected", "transactions_affected"):
        data[name] = int(total(name))
    for name in ("transaction_value_affected_eur", "duration_hours", "downtime_critical_hours", "costs_eur"):
        data[name] = total(name)
    for name in (
        "clients_total",
        "counterparts_total",
        "transactions_daily_avg",
        "transaction_value_daily_avg_eur",
    ):
        data[name] = largest(name)
    for name in (
        "critical_services_affected",
        "authorised_services_affected",
        "malicious_unauthorised_access",
        "access_may_cause_data_loss",
        "relevant_clients_affected",
        "data_loss_adverse_impact",
    ):
        data[name] = any_of(name)
    data["reputational"] = tuple(dict.fromkeys(r for a in assessments for r in a.reputational))
    data["member_states_impacted"] = tuple(
        dict.fromkeys(s for a in assessments for s in a.member_states_impacted)
    )
    return Assessment.model_validate(data)


def _applicable(first: Assessment) -> bool:
    small = first.entity is not None and first.entity.simplified_framework_or_microenterprise
    return not small and first.entity_type not in _ART16_TYPES


def classify_recurring(occurrences: Sequence[Occurrence]) -> RecurringResult:
    """Apply RTS-C Art. 8(2) to non-major incidents that share an apparent root cause.

    All must hold: (a) at least two occurrences within six months (first to last, Member-State local
    calendar); (b) the same apparent root cause; (c) together they meet Art. 8(1).

    Args:
        occurrences: The incidents, each with its ``occurred_at`` (or ``aware_at``) and root cause.

    Returns:
        The result with its reasons.

    Raises:
        AssessmentError: if an occurrence is itself major (it is reported on its own).
    """
    if not occurrences:
        raise AssessmentError("at least one occurrence is needed", field="occurrences")
    for index, occ in enumerate(occurrences):
        if classify(occ.assessment).major:
            raise AssessmentError(
                "is major on its own: report it under Art. 8(1)", field=f"occurrences.{index}"
            )
    assessments = [o.assessment for o in occurrences]
    times = tuple(sorted(a.occurred_at or a.aware_at for a in assessments))
    first = assessments[0]
    if not _applicable(first):
        reason = "Art. 8(2) does not apply to microenterprises and DORA Art. 16(1) entities"
        return RecurringResult(
            major=False, applicable=False, occurrences=times, combined=None, explanation=(reason,)
        )
    window_end = add_months(times[0], 6, zone(first.member_state))
    within = len(times) >= 2 and times[-1] <= window_end
    causes = {o.root_cause.strip().casefold() for o in occurrences}
    combined = classify(combine(assessments))
    major = within and len(causes) == 1 and combined.major
    explanation = (
        f"Art. 8(2)(a) at least twice within 6 months: {len(times)} occurrences from {times[0].isoformat()} to "
        f"{times[-1].isoformat()}: {'met' if within else 'not met'}",
        f"Art. 8(2)(b) same apparent root cause: {'met' if len(causes) == 1 else 'not met'} ({len(causes)} cause(s))",
        f"Art. 8(2)(c) collectively meet Art. 8(1): {'met' if combined.major else 'not met'} ({combined.rule})",
        "Recurring incidents are " + ("one MAJOR incident" if major else "not a major incident") + ".",
    )
    return RecurringResult(
        major=major, applicable=True, occurrences=times, combined=combined, explanation=explanation
    )
