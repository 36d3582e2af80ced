"""Sliding windows of correlations: a brute-force oracle, and exactly-once across any cut into sweep windows."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from soar.detect.sequences import Bound, Event, SequenceSpec, find_matches, group_matches

MIN = 60_000


def _events(
    *minutes: float, rules: list[set[int]] | None = None, values: list[str] | None = None
) -> list[Event]:
    out = []
    for n, minute in enumerate(minutes):
        rule = frozenset(rules[n]) if rules else frozenset({0})
        out.append(Event(int(minute * MIN), "logs", f"e{n}", rule, values[n] if values else None))
    return out


def _first_ids(spec: SequenceSpec, events: list[Event], start: int = 0, end: int = 10**12) -> list[str]:
    return [m.first.id for m in find_matches(spec, events, start, end)]


def test_event_count_fires_once_for_a_burst_and_not_when_spread_wider_than_timespan() -> None:
    spec = SequenceSpec("event_count", 1, 15 * MIN, (Bound("gte", 5),))
    burst = _events(10, 12, 14, 16, 18, 20, 21)  # 7 events in 11 minutes
    [match] = find_matches(spec, burst, 0, 10**12)
    assert (match.first.id, match.count, match.decided) == ("e0", 7, 18 * MIN)
    spread = _events(0, 4, 8, 12, 16.1, 20.2)  # never 5 within 15 minutes
    assert _first_ids(spec, spread) == []


def test_a_burst_across_a_tumbling_bucket_boundary_is_found() -> None:
    spec = SequenceSpec("event_count", 1, 10 * MIN, (Bound("gte", 4),))
    # Two events each side of minute 10: no [0,10) or [10,20) bucket holds four, a sliding window does.
    assert _first_ids(spec, _events(8, 9, 11, 12)) == ["e0"]


def test_gt_needs_one_more_than_the_value() -> None:
    events = _events(0, 1, 2)
    assert _first_ids(SequenceSpec("event_count", 1, 5 * MIN, (Bound("gt", 3),)), events) == []
    assert _first_ids(SequenceSpec("event_count", 1, 5 * MIN, (Bound("gt", 2),)), events) == ["e0"]


def test_value_count_counts_distinct_values() -> None:
    spec = SequenceSpec("value_count", 1, 10 * MIN, (Bound("gte", 3),))
    same = _events(0, 1, 2, 3, 4, values=["alice", "alice", "bob", "bob", "alice"])
    assert _first_ids(spec, same) == []
    three = _events(0, 1, 2, 3, values=["alice", "bob", "alice", "carol"])
    [match] = find_matches(spec, three, 0, 10**12)
    assert (match.count, match.values, match.decided) == (3, ("alice", "bob", "carol"), 3 * MIN)


def test_value_count_ignores_events_without_the_field() -> None:
    spec = SequenceSpec("value_count", 1, 10 * MIN, (Bound("gte", 2),))
    events = [Event(0, "i", "a", value="x"), Event(MIN, "i", "b"), Event(2 * MIN, "i", "c")]
    assert find_matches(spec, events, 0, 10**12) == []


def test_temporal_ordered_respects_order_and_temporal_does_not() -> None:
    ordered = SequenceSpec("temporal_ordered", 2, 30 * MIN)
    unordered = SequenceSpec("temporal", 2, 30 * MIN)
    backwards = _events(0, 10, rules=[{1}, {0}])  # the second rule first, then the first
    assert _first_ids(ordered, backwards) == []
    assert _first_ids(unordered, backwards) == ["e0"]
    forwards = _events(0, 10, 20, rules=[{1}, {0}, {1}])
    [match] = find_matches(ordered, forwards, 0, 10**12)
    assert [e.id for e in match.events] == ["e1", "e2"]
    assert match.first.id == "e1"


def test_temporal_ordered_needs_every_step_within_timespan() -> None:
    spec = SequenceSpec("temporal_ordered", 3, 10 * MIN)
    assert _first_ids(spec, _events(0, 5, 11, rules=[{0}, {1}, {2}])) == []
    assert _first_ids(spec, _events(0, 5, 10, rules=[{0}, {1}, {2}])) == ["e0"]


def test_one_event_advances_a_sequence_by_one_step() -> None:
    spec = SequenceSpec("temporal_ordered", 2, 10 * MIN)
    assert _first_ids(spec, _events(0, rules=[{0, 1}])) == []
    assert _first_ids(spec, _events(0, 1, rules=[{0, 1}, {0, 1}])) == ["e0"]


def test_closed_conditions_are_decided_when_the_window_closes() -> None:
    spec = SequenceSpec("event_count", 1, 10 * MIN, (Bound("lt", 3),))
    events = _events(0, 1)
    assert find_matches(spec, events, 0, 10 * MIN) == []  # the window [0, 10m] is still open
    [match] = find_matches(spec, events, 0, 10 * MIN + 1)
    assert (match.decided, match.count) == (10 * MIN, 2)


def test_a_range_needs_both_bounds() -> None:
    spec = SequenceSpec("event_count", 1, 10 * MIN, (Bound("gt", 2), Bound("lte", 4)))
    assert not spec.growing
    assert _first_ids(spec, _events(0, 1, 2, 3)) == ["e0"]
    assert _first_ids(spec, _events(0, 1, 2, 3, 4)) == ["e1"]  # e0's window holds 5; e1's holds 4
    assert _first_ids(spec, _events(0, 1)) == []


def test_a_long_attack_is_one_match_and_a_later_one_another() -> None:
    spec = SequenceSpec("event_count", 1, 10 * MIN, (Bound("gte", 3),))
    steady = [float(m) for m in range(0, 120)]  # one a minute for two hours
    later = [200.0, 201.0, 202.0]
    ids = _first_ids(spec, _events(*steady, *later))
    assert ids == ["e0", "e120"]


def test_group_matches_orders_by_decision() -> None:
    spec = SequenceSpec("event_count", 1, 10 * MIN, (Bound("gte", 2),))
    groups = {("b",): _events(0, 1), ("a",): _events(5, 6)}
    assert [key for key, _ in group_matches(spec, groups, 0, 10**12)] == [("b",), ("a",)]


# --- properties --------------------------------------------------------------------------------------------

SPECS = st.builds(
    SequenceSpec,
    type=st.sampled_from(["event_count", "value_count", "temporal", "temporal_ordered"]),
    rules=st.integers(1, 3),
    timespan_ms=st.integers(1, 30).map(lambda m: m * MIN),
    bounds=st.lists(
        st.builds(
            Bound, op=st.sampled_from(["gt", "gte", "lt", "lte", "eq", "neq"]), value=st.integers(0, 5)
        ),
        max_size=2,
    ).map(tuple),
)


@st.composite
def _streams(draw: st.DrawFn) -> tuple[SequenceSpec, list[Event]]:
    spec = draw(SPECS)
    count = draw(st.integers(0, 25))
    events = [
        Event(
            draw(st.integers(0, 240)) * MIN // 2,
            "logs",
            f"e{n}",
            frozenset(draw(st.sets(st.integers(0, spec.rules - 1), min_size=1, max_size=spec.rules))),
            draw(st.sampled_from([None, "a", "b", "c", "d"])),
        )
        for n in range(count)
    ]
    return spec, events


def _oracle(spec: SequenceSpec, events: list[Event], start: int, end: int) -> list[tuple[str, int]]:
    """The definition, computed the slow way: every anchor's window scanned event by event."""
    ordered = sorted(e for e in events if e.time < end)
    decided: list[int | None] = []
    for i, anchor in enumerate(ordered):
        decided.append(_oracle_decision(spec, ordered, i, anchor, end))
    out, previous = [], None
    for i, when in enumerate(decided):
        if when is None:
            continue
        if (previous is None or previous < ordered[i].time - spec.timespan_ms) and start <= when < end:
            out.append((ordered[i].id, when))
        previous = ordered[i].time
    return out


def _oracle_decision(spec: SequenceSpec, ordered: list[Event], i: int, anchor: Event, end: int) -> int | None:
    if spec.type == "temporal_ordered" and 0 not in anchor.rules:
        return None
    window = [e for e in ordered[i:] if e.time - anchor.time <= spec.timespan_ms]
    for n in range(1, len(window) + 1):
        count = _oracle_count(spec, window[:n])
        if spec.growing and spec.holds(count):
            return window[n - 1].time
    closes = anchor.time + spec.timespan_ms
    if not spec.growing and closes < end and spec.holds(_oracle_count(spec, window)):
        return closes
    return None


def _oracle_count(spec: SequenceSpec, window: list[Event]) -> int:
    if spec.type == "event_count":
        return len(window)
    if spec.type == "value_count":
        return len({e.value for e in window if e.value is not None})
    if spec.type == "temporal":
        return len(set().union(*(e.rules for e in window)))
    want = 0
    for event in window:
        if want < spec.rules and want in event.rules:
            want += 1
    return want


@given(_streams(), st.integers(0, 130 * MIN))
def test_matches_equal_the_definition(stream: tuple[SequenceSpec, list[Event]], start: int) -> None:
    spec, events = stream
    found = [(m.first.id, m.decided) for m in find_matches(spec, events, start, start + 60 * MIN)]
    assert found == _oracle(spec, events, start, start + 60 * MIN)


@given(_streams(), st.lists(st.integers(1, 240 * MIN), max_size=6))
def test_any_cut_into_sweep_windows_finds_each_match_exactly_once(
    stream: tuple[SequenceSpec, list[Event]], cuts: list[int]
) -> None:
    spec, events = stream
    end = 121 * MIN
    whole = [(m.first.id, m.decided) for m in find_matches(spec, events, 0, end)]
    bounds = [0, *sorted({c for c in cuts if c < end}), end]
    pieces = []
    for lo, hi in itertools.pairwise(bounds):
        seen = [e for e in events if lo - 2 * spec.timespan_ms <= e.time < hi]  # what that sweep searches
        pieces += [(m.first.id, m.decided) for m in find_matches(spec, seen, lo, hi)]
    assert pieces == whole
