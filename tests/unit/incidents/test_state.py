from __future__ import annotations

from datetime import timedelta

from soar.incidents.models import (
    AssessOutput,
    ClassificationView,
    DeadlineView,
    IncidentPolicy,
    IncidentStatus,
    IncidentUpdate,
)
from soar.incidents.state import (
    add_alert,
    apply_assessment,
    apply_update,
    close_reason,
    facts_for,
    new_state,
    run_problem,
)
from tests.unit.incidents.helpers import T0, alert, user


def _state():  # type: ignore[no-untyped-def]
    return new_state("INC-1", "incident-INC-1", IncidentPolicy(idle_close=timedelta(days=7)), T0)


def test_an_alert_signalled_twice_counts_once() -> None:
    s = _state()
    assert add_alert(s, alert("a1"), T0)
    assert not add_alert(s, alert("a1"), T0)
    assert add_alert(s, alert("a2", at=T0 + timedelta(minutes=5), entities=[user("bob")]), T0)
    assert s.view.alerts_count == 2
    assert s.view.alert_groups[0].count == 2
    assert s.view.last_alert_at == T0 + timedelta(minutes=5)
    assert s.view.entities == ["user:keycloak:alice", "user:keycloak:bob"]
    assert len(s.sources) == 2
    assert s.dirty_since == T0


def test_the_title_follows_the_most_urgent_alert() -> None:
    s = _state()
    add_alert(s, alert("a1", rule_id="low", priority=4), T0)
    add_alert(s, alert("a2", rule_id="urgent", priority=1), T0)
    add_alert(s, alert("a3", rule_id="also-urgent", priority=1), T0)
    assert s.view.title == "title of urgent"
    assert s.view.priority == 1


def test_updates_keep_facts_and_submissions_and_refuse_bad_fields() -> None:
    s = _state()
    update = IncidentUpdate(
        by="alice", at=T0, values={"costs_eur": "150000", "submitted.initial": T0.isoformat(), "bogus": "1"}
    )
    refused = apply_update(s, update, T0)
    assert refused == [
        "update by alice: bogus: not a field an update can set (see `soar incidents update --help`)"
    ]
    assert s.view.facts["costs_eur"].value == "150000"
    assert s.view.facts["costs_eur"].by == "alice"
    assert s.view.submissions.initial_at == T0
    apply_update(s, IncidentUpdate(by="bob", at=T0, values={"submitted.intermediate": "now"}), T0)
    apply_update(
        s, IncidentUpdate(by="bob", at=T0 + timedelta(days=1), values={"submitted.intermediate": "now"}), T0
    )
    assert s.view.submissions.intermediate_at == (T0, T0 + timedelta(days=1))
    assert facts_for(s, T0).facts["costs_eur"].value == "150000"


def _major(at=T0):  # type: ignore[no-untyped-def]
    return AssessOutput(
        classification=ClassificationView(major=True, rule="r", assessed_at=at, classified_at=at),
        deadlines=[DeadlineView(report="initial", due=at + timedelta(hours=4), status="open")],
    )


def test_the_first_major_classification_is_kept() -> None:
    s = _state()
    assert apply_assessment(s, _major(T0))
    assert not apply_assessment(s, _major(T0 + timedelta(hours=1)))
    assert s.classified_at == T0
    assert s.view.deadlines[0].due == T0 + timedelta(hours=5)


def test_closing_rules() -> None:
    s = _state()
    assert close_reason(s, T0 + timedelta(days=6)) is None
    assert close_reason(s, T0 + timedelta(days=7)) == "idle for 7 days, 0:00:00"
    apply_update(s, IncidentUpdate(by="a", at=T0, values={"status": "resolved"}), T0)
    assert s.view.status is IncidentStatus.RESOLVED
    assert close_reason(s, T0) == "resolved"
    major = _state()
    apply_assessment(major, _major())
    apply_update(major, IncidentUpdate(by="a", at=T0, values={"status": "resolved"}), T0)
    assert close_reason(major, T0 + timedelta(days=30)) is None
    apply_update(major, IncidentUpdate(by="a", at=T0, values={"submitted.final": "now"}), T0)
    assert close_reason(major, T0) == "final report submitted"


def test_failed_steps_are_problems_until_they_succeed() -> None:
    s = _state()
    run_problem(s, "search engine unreachable", "figures")
    run_problem(s, "webhook 500", "notification k1")
    assert s.view.problems == ["figures: search engine unreachable", "notification k1: webhook 500"]
    apply_assessment(s, _major())
    assert "figures: search engine unreachable" in s.view.problems
    run_problem(s, "", "figures")
    assert s.view.problems == ["notification k1: webhook 500"]
