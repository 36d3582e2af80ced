"""Reporting deadlines of RTS-R (Delegated Reg. 2025/301) Art. 5: pure functions of the given times."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from soar.dora.assessment import Assessment
from soar.dora.calendar import WorkingDays, add_months
from soar.dora.enums import NO_WEEKEND_EXTENSION
from soar.dora.incident import Submissions

INITIAL_AFTER_CLASSIFICATION = timedelta(hours=4)  # Art. 5(1)(a), 5(2)
INITIAL_AFTER_AWARENESS = timedelta(hours=24)  # Art. 5(1)(a)
INTERMEDIATE_AFTER_INITIAL = timedelta(hours=72)  # Art. 5(1)(b)
FINAL_AFTER_INTERMEDIATE_MONTHS = 1  # Art. 5(1)(c)

Report = Literal["initial", "intermediate", "final"]
Status = Literal["pending", "open", "overdue", "submitted", "submitted_late"]


class Deadline(BaseModel):
    """One report's deadline, how it was derived, and (given ``now``) where it stands."""

    model_config = ConfigDict(frozen=True)
    report: Report
    due: datetime | None
    computed: datetime | None
    extended: bool
    article: str
    explanation: str
    status: Status


class Deadlines(BaseModel):
    """The three deadlines of one incident, in the Member State's local time."""

    model_config = ConfigDict(frozen=True)
    member_state: str
    timezone: str
    extension_for_initial_and_intermediate: bool
    initial: Deadline
    intermediate: Deadline
    final: Deadline
    notes: tuple[str, ...]

    def all(self) -> tuple[Deadline, Deadline, Deadline]:
        """The three deadlines in report order."""
        return (self.initial, self.intermediate, self.final)


def initial_due(aware_at: datetime, classified_at: datetime) -> tuple[datetime, str]:
    """The initial notification deadline before the weekend rule (RTS-R Art. 5(1)(a) and 5(2)).

    Both limbs bind and the earlier wins: ``min(classified + 4 h, aware + 24 h)``; when classification
    comes more than 24 h after awareness, ``classified + 4 h``. Hours are elapsed hours (UTC), so a
    daylight-saving change does not shorten or lengthen them.

    Args:
        aware_at: When the entity became aware of the incident (field 2.2).
        classified_at: When it classified the incident as major (field 2.3).

    Returns:
        The deadline and the reason, in words.
    """
    by_class = classified_at + INITIAL_AFTER_CLASSIFICATION
    by_aware = aware_at + INITIAL_AFTER_AWARENESS
    if classified_at - aware_at > INITIAL_AFTER_AWARENESS:
        return by_class, "classified more than 24 h after awareness: 4 h after classification (Art. 5(2))"
    if by_aware < by_class:
        return by_aware, "24 h after awareness, earlier than 4 h after classification (Art. 5(1)(a))"
    return by_class, "4 h after classification, no later than 24 h after awareness (Art. 5(1)(a))"


def _extension_allowed(assessment: Assessment) -> bool:
    entity = assessment.entity
    if assessment.entity_type in NO_WEEKEND_EXTENSION:
        return False
    return not (
        entity and (entity.nis2_essential_or_important or entity.weekend_extension_removed_by_authority)
    )


def _status(due: datetime | None, submitted: datetime | None, now: datetime | None) -> Status:
    if submitted is not None:
        return "submitted" if due is None or submitted <= due else "submitted_late"
    if due is None:
        return "pending"
    return "overdue" if now is not None and now > due else "open"


def _deadline(
    report: Report,
    computed: datetime | None,
    why: str,
    article: str,
    extension: bool,
    days: WorkingDays,
    submitted: datetime | None,
    now: datetime | None,
) -> Deadline:
    due, extended = computed, False
    if computed is not None:
        local = computed.astimezone(days.zone)
        reason = days.non_working_reason(local.date())
        due = local
        if reason and extension:
            due, extended = days.next_working_noon(local), True
            why += (
                f"; falls on {local.date().isoformat()} ({reason}): noon of the next working day (Art. 5(4))"
            )
        elif reason:
            why += (
                f"; falls on {local.date().isoformat()} ({reason}) but no extension applies (Art. 5(5)/(6))"
            )
    return Deadline(
        report=report,
        due=due,
        computed=computed.astimezone(days.zone) if computed else None,
        extended=extended,
        article=article,
        explanation=why,
        status=_status(due, submitted, now),
    )


def compute_deadlines(
    assessment: Assessment, submissions: Submissions | None = None, now: datetime | None = None
) -> Deadlines:
    """The deadlines of the initial, intermediate and final reports.

    The intermediate clock starts when the initial notification was submitted, the final clock at the
    latest (updated) intermediate report; until then those deadlines are pending. The weekend and
    bank-holiday rule of Art. 5(4) moves a deadline to noon of the next working day in the Member State,
    except for the initial and intermediate reports of the entities of Art. 5(5) and 5(6).

    Args:
        assessment: The assessment (entity type, Member State, awareness and classification times).
        submissions: When reports were submitted, if any.
        now: The time to compare deadlines with; no status is judged overdue without it.

    Returns:
        The deadlines.
    """
    subs = submissions or Submissions()
    profile = assessment.entity
    days = WorkingDays(
        assessment.member_state,
        profile.subdivision if profile else None,
        profile.extra_bank_holidays if profile else (),
    )
    extension = _extension_allowed(assessment)
    first, why = initial_due(assessment.aware_at, assessment.classified_at)
    initial = _deadline(
        "initial", first, why, "RTS-R Art. 5(1)(a), 5(2)", extension, days, subs.initial_at, now
    )
    inter_start = subs.initial_at + INTERMEDIATE_AFTER_INITIAL if subs.initial_at else None
    why = "72 h after the initial notification was submitted (Art. 5(1)(b))"
    if inter_start is None:
        why += "; the initial notification has not been submitted yet"
    inter_sub = subs.intermediate_at[0] if subs.intermediate_at else None
    intermediate = _deadline(
        "intermediate", inter_start, why, "RTS-R Art. 5(1)(b)", extension, days, inter_sub, now
    )
    latest = max(subs.intermediate_at) if subs.intermediate_at else None
    final_start = add_months(latest, FINAL_AFTER_INTERMEDIATE_MONTHS, days.zone) if latest else None
    why = "one month after the latest (updated) intermediate report, same local time (Art. 5(1)(c))"
    if final_start is None:
        why += "; no intermediate report has been submitted yet"
    final = _deadline("final", final_start, why, "RTS-R Art. 5(1)(c)", True, days, subs.final_at, now)
    notes = (
        "Updated intermediate reports: without undue delay and in any case once regular activities are "
        "recovered (RTS-R Art. 5(1)(b); DORA Art. 19(4)(b)).",
        "A deadline that cannot be met: tell the competent authority no later than the deadline and explain "
        "why (RTS-R Art. 5(3)).",
    )
    return Deadlines(
        member_state=assessment.member_state,
        timezone=days.zone.key,
        extension_for_initial_and_intermediate=extension,
        initial=initial,
        intermediate=intermediate,
        final=final,
        notes=notes,
    )
