from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from soar.detect.models import Checkpoint, DetectRule
from soar.detect.settings import RuleOptions
from soar.detect.windows import plan_rule, split, steps
from soar.rules.models import CompiledRule
from soar.telemetry.sources import Source

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OPTS = RuleOptions(
    interval="5m",
    overlap="1m",
    lookback="2h",
    ingest_delay="30s",
    max_window="1h",
    max_catchup="1d",
)
END = NOW - timedelta(seconds=30)


def _rule(rule_id: str = "r1", options: RuleOptions = OPTS) -> DetectRule:
    compiled = CompiledRule(
        rule_id=rule_id,
        title="t",
        source=Source.OKTA,
        index="logs-okta.system-*",
        query={"match_all": {}},
        content_hash="h",
        path="x.yml",
    )
    return DetectRule(rule=compiled, options=options)


def _checkpoint(end: datetime, *, backlog: bool = False, time_field: str = "@timestamp") -> Checkpoint:
    return Checkpoint(
        rule_id="r1", group_id="okta", content_hash="h", time_field=time_field, end=end, backlog=backlog
    )


def test_split_bounds_and_covers() -> None:
    windows = split(NOW - timedelta(minutes=150), NOW, timedelta(hours=1))
    assert [(w.end - w.start) for w in windows] == [timedelta(hours=1)] * 2 + [timedelta(minutes=30)]
    assert windows[0].start == NOW - timedelta(minutes=150)
    assert windows[-1].end == NOW
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert split(NOW, NOW, timedelta(hours=1)) == []


def test_first_run_reaches_lookback_and_stops_at_ingest_delay() -> None:
    plan = plan_rule(_rule(), None, NOW, "run")
    assert plan.windows[0].start == END - timedelta(hours=2)
    assert plan.windows[-1].end == END
    assert len(plan.windows) == 2
    assert plan.gaps == []


def test_regular_run_overlaps_the_checkpoint() -> None:
    plan = plan_rule(_rule(), _checkpoint(END - timedelta(minutes=5)), NOW, "run")
    assert [(w.start, w.end) for w in plan.windows] == [(END - timedelta(minutes=6), END)]
    assert plan.gaps == []


def test_not_due_before_interval_unless_backlog() -> None:
    recent = END - timedelta(minutes=2)
    assert plan_rule(_rule(), _checkpoint(recent), NOW, "run").windows == []
    assert plan_rule(_rule(), _checkpoint(recent, backlog=True), NOW, "run").windows != []


def test_downtime_is_caught_up_in_bounded_windows_and_recorded() -> None:
    last = END - timedelta(hours=3, minutes=10)
    plan = plan_rule(_rule(), _checkpoint(last), NOW, "run-7")
    assert plan.windows[0].start == last - timedelta(minutes=1)
    assert plan.windows[-1].end == END
    assert all(w.end - w.start <= timedelta(hours=1) for w in plan.windows)
    assert len(plan.windows) == 4
    [gap] = plan.gaps
    assert (gap.start, gap.end, gap.filled, gap.run_id) == (last, END, True, "run-7")


def test_downtime_beyond_max_catchup_is_recorded_as_missed() -> None:
    last = END - timedelta(days=2)
    plan = plan_rule(_rule(), _checkpoint(last), NOW, "run")
    missed, filled = plan.gaps
    assert (missed.start, missed.end, missed.filled) == (last, END - timedelta(days=1), False)
    assert (filled.start, filled.end, filled.filled) == (END - timedelta(days=1), END, True)
    assert plan.windows[0].start == END - timedelta(days=1, minutes=1)
    assert len(plan.windows) == 25


def test_changed_time_field_starts_over() -> None:
    options = OPTS.model_copy(update={"time_field": "event.ingested"})
    plan = plan_rule(_rule(options=options), _checkpoint(END - timedelta(minutes=5)), NOW, "run")
    assert plan.windows[0].start == END - timedelta(hours=2)


def test_steps_take_the_nth_window_of_rules_with_budget() -> None:
    a = plan_rule(_rule("a"), None, NOW, "run")
    b = plan_rule(_rule("b"), _checkpoint(END - timedelta(minutes=5)), NOW, "run")
    first = steps([a, b], {"a": 10, "b": 10}, 0)
    assert [(i.rule.rule.rule_id, i.max_alerts) for i in first] == [("a", 10), ("b", 10)]
    assert [i.rule.rule.rule_id for i in steps([a, b], {"a": 10, "b": 10}, 1)] == ["a"]
    assert steps([a, b], {"a": 0, "b": 10}, 1) == []


def test_options_accept_durations_and_reject_bad_values() -> None:
    assert RuleOptions(interval="90s").interval == timedelta(seconds=90)
    with pytest.raises(ValueError, match="duration"):
        RuleOptions(interval="soon")
    with pytest.raises(ValueError, match="positive"):
        RuleOptions(interval="0s")
