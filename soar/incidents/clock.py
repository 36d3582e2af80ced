"""The reporting clocks of a major incident (pure): reminders, escalations, and when to wake up next.

The deadlines themselves come from :func:`soar.dora.deadlines.compute_deadlines`; this module only decides,
given the time, which reminder or escalation is due. The workflow sleeps until :func:`next_clock` on a
durable timer, so a clock survives worker restarts and runs in skipped time in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from soar.incidents.models import DeadlineView, ReportStage
from soar.response.models import Notification, NotificationKind

ClockKind = Literal["reminder", "escalation"]


@dataclass(frozen=True)
class ClockEvent:
    """A reminder (``remind_before`` ahead of a deadline) or an escalation (the deadline passed unsubmitted)."""

    kind: ClockKind
    report: ReportStage
    due: datetime


def _running(d: DeadlineView) -> bool:
    return d.due is not None and d.status in ("open", "overdue")


def clock_events(deadlines: list[DeadlineView], now: datetime, remind_before: timedelta) -> list[ClockEvent]:
    """The reminders and escalations due at ``now`` and not yet done, in deadline order."""
    events: list[ClockEvent] = []
    for d in deadlines:
        if not _running(d) or d.due is None:
            continue
        if d.reminded_at is None and now >= d.due - remind_before and now < d.due:
            events.append(ClockEvent("reminder", d.report, d.due))
        if d.escalated_at is None and now >= d.due:
            events.append(ClockEvent("escalation", d.report, d.due))
    return events


def next_clock(deadlines: list[DeadlineView], now: datetime, remind_before: timedelta) -> datetime | None:
    """When the next reminder or escalation falls due (None: no clock is running)."""
    times: list[datetime] = []
    for d in deadlines:
        if not _running(d) or d.due is None:
            continue
        if d.reminded_at is None and now < d.due - remind_before:
            times.append(d.due - remind_before)
        if d.escalated_at is None:
            times.append(d.due)
    return min(times, default=None)


def mark(deadlines: list[DeadlineView], event: ClockEvent, now: datetime) -> None:
    """Record that an event was acted on (reminding is pointless once escalated)."""
    for d in deadlines:
        if d.report == event.report and d.due == event.due:
            if event.kind == "reminder":
                d.reminded_at = now
            else:
                d.escalated_at, d.status = now, "overdue"
                d.reminded_at = d.reminded_at or now


def merge_deadlines(old: list[DeadlineView], new: list[DeadlineView]) -> list[DeadlineView]:
    """The new deadlines, keeping what was done for a deadline whose due time did not move."""
    done = {(d.report, d.due): d for d in old}
    merged = []
    for d in new:
        before = done.get((d.report, d.due))
        if before is not None:
            d = d.model_copy(update={"reminded_at": before.reminded_at, "escalated_at": before.escalated_at})
        merged.append(d)
    return merged


def notification(incident_id: str, title: str, event: ClockEvent, now: datetime) -> Notification:
    """The message of a reminder or escalation; its key makes a re-send a no-op."""
    due = event.due.isoformat()
    if event.kind == "reminder":
        kind, subject = NotificationKind.REMINDER, f"{incident_id}: {event.report} report due {due}"
        text = f"The DORA {event.report} report of {incident_id} ({title}) is due at {due} (RTS-R Art. 5)."
    else:
        kind, subject = NotificationKind.ESCALATION, f"{incident_id}: {event.report} report deadline missed"
        text = (
            f"The DORA {event.report} report of {incident_id} ({title}) was due at {due} and is not recorded as "
            "submitted. Tell the competent authority without undue delay why (RTS-R Art. 5(3))."
        )
    key = f"{incident_id}:{event.report}:{event.kind}:{due}"
    return Notification(key=key, kind=kind, incident_id=incident_id, subject=subject, text=text, at=now)
