from __future__ import annotations

from datetime import timedelta

from soar.incidents.clock import ClockEvent, clock_events, mark, merge_deadlines, next_clock, notification
from soar.incidents.models import DeadlineView
from soar.response.models import NotificationKind
from tests.unit.incidents.helpers import T0

H = timedelta(hours=1)


def _deadlines() -> list[DeadlineView]:
    return [
        DeadlineView(report="initial", due=T0 + 4 * H, status="open"),
        DeadlineView(report="intermediate", status="pending"),
        DeadlineView(report="final", status="pending"),
    ]


def test_nothing_before_the_reminder_and_the_next_clock_is_the_reminder() -> None:
    d = _deadlines()
    assert clock_events(d, T0, H) == []
    assert next_clock(d, T0, H) == T0 + 3 * H


def test_reminder_then_escalation() -> None:
    d = _deadlines()
    events = clock_events(d, T0 + 3 * H, H)
    assert events == [ClockEvent("reminder", "initial", T0 + 4 * H)]
    mark(d, events[0], T0 + 3 * H)
    assert clock_events(d, T0 + 3 * H, H) == []
    assert next_clock(d, T0 + 3 * H, H) == T0 + 4 * H
    late = clock_events(d, T0 + 4 * H, H)
    assert late == [ClockEvent("escalation", "initial", T0 + 4 * H)]
    mark(d, late[0], T0 + 4 * H)
    assert d[0].status == "overdue"
    assert d[0].escalated_at == T0 + 4 * H
    assert next_clock(d, T0 + 4 * H, H) is None


def test_a_deadline_found_already_passed_escalates_without_a_reminder() -> None:
    d = _deadlines()
    assert [e.kind for e in clock_events(d, T0 + 5 * H, H)] == ["escalation"]


def test_submitted_reports_have_no_clock() -> None:
    d = [DeadlineView(report="initial", due=T0 + 4 * H, status="submitted")]
    assert clock_events(d, T0 + 5 * H, H) == []
    assert next_clock(d, T0, H) is None


def test_merge_keeps_what_was_done_for_an_unmoved_deadline_only() -> None:
    old = _deadlines()
    mark(old, ClockEvent("reminder", "initial", T0 + 4 * H), T0 + 3 * H)
    same = merge_deadlines(old, _deadlines())
    assert same[0].reminded_at == T0 + 3 * H
    moved = merge_deadlines(old, [DeadlineView(report="initial", due=T0 + 5 * H, status="open")])
    assert moved[0].reminded_at is None


def test_notifications_have_stable_keys_and_kinds() -> None:
    event = ClockEvent("escalation", "initial", T0 + 4 * H)
    first = notification("INC-1", "Payments down", event, T0 + 4 * H)
    again = notification("INC-1", "Payments down", event, T0 + 5 * H)
    assert first.key == again.key
    assert first.kind is NotificationKind.ESCALATION
    assert "Art. 5(3)" in first.text
    reminder = notification("INC-1", "x", ClockEvent("reminder", "initial", T0), T0)
    assert reminder.kind is NotificationKind.REMINDER
    assert reminder.key != first.key
