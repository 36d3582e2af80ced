"""Sliding windows over one group's events: which correlation matches a sweep window owns, exactly once.

A match is *anchored* at an event ``e``: its window is every event of the group in ``[t(e), t(e) + timespan]``
(``temporal_ordered`` anchors only on events of its first rule). The window matches when its count meets
the condition: events (``event_count``), distinct values of the field (``value_count``), distinct rules
(``temporal``) or rules matched in order from the anchor (``temporal_ordered``); without a condition the
temporal types need every rule.

A matching anchor raises an alert unless another matching anchor lies in the ``timespan`` before it, so a
burst, or an attack that goes on for hours, is one alert rather than one per event. The match is *decided*
at a moment: for ``gt``/``gte`` conditions (which only grow as events arrive) when the count first meets
the condition, for any other condition when the window has closed (``t + timespan``). A sweep window
``[start, end)`` owns the matches decided inside it. Every fact a decision rests on lies within
``2 * timespan`` before it, so a sweep that searches from ``start - 2 * timespan`` sees the same events as
any other sweep overlapping it, and makes the same decisions: a match found by two sweeps is the same
match (same anchor, same alert id), and a sequence straddling two sweep windows is found by the one that
holds its decision.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from soar.rules.models import CorrelationType

Op = Literal["gt", "gte", "lt", "lte", "eq", "neq"]
GROWING: frozenset[str] = frozenset({"gt", "gte"})


@dataclass(frozen=True, order=True)
class Event:
    """One event of a group: its time (ms on the rule's time field), where it is, what it matched."""

    time: int
    index: str
    id: str
    rules: frozenset[int] = field(default=frozenset({0}), compare=False)  # referenced rules' positions
    value: str | None = field(default=None, compare=False)  # value_count: the field's value (JSON text)


@dataclass(frozen=True)
class Bound:
    """One comparison of the count: ``count <op> value``."""

    op: Op
    value: int

    def holds(self, count: int) -> bool:
        """Whether the count passes this comparison."""
        return {
            "gt": count > self.value,
            "gte": count >= self.value,
            "lt": count < self.value,
            "lte": count <= self.value,
            "eq": count == self.value,
            "neq": count != self.value,
        }[self.op]


@dataclass(frozen=True)
class SequenceSpec:
    """What a correlation counts and compares, as the sliding window needs it.

    Attributes:
        type: The Sigma correlation type.
        rules: How many rules the correlation references.
        timespan_ms: The window length in milliseconds.
        bounds: Every comparison the count must pass (a range has two); empty: every rule (temporal types).
    """

    type: CorrelationType
    rules: int
    timespan_ms: int
    bounds: tuple[Bound, ...] = ()

    @property
    def all_bounds(self) -> tuple[Bound, ...]:
        """The bounds, with the temporal types' default (every referenced rule) when none is given."""
        return self.bounds or (Bound("gte", self.rules),)

    @property
    def growing(self) -> bool:
        """True when the condition, once met, stays met as more events arrive (only gt/gte bounds)."""
        return all(b.op in GROWING for b in self.all_bounds)

    @property
    def need(self) -> int:
        """For a growing condition: the smallest count that meets it (at least 1)."""
        return max([1, *(b.value + 1 if b.op == "gt" else b.value for b in self.all_bounds)])

    def holds(self, count: int) -> bool:
        """Whether a window with this count matches."""
        return all(b.holds(count) for b in self.all_bounds)


@dataclass(frozen=True)
class Match:
    """A match a sweep window owns: its anchor, when it was decided, and the window as the sweep saw it."""

    first: Event
    decided: int  # ms
    events: tuple[Event, ...]  # the window's events (temporal_ordered: the sequence), in time order
    count: int  # the count over those events
    values: tuple[str, ...] = ()  # value_count: the distinct values

    @property
    def last(self) -> Event:
        """The window's last event."""
        return self.events[-1]


def find_matches(spec: SequenceSpec, events: Iterable[Event], start: int, end: int) -> list[Match]:
    """The matches of one group decided in ``[start, end)`` (ms), in time order.

    Args:
        spec: The correlation's type, window and condition.
        events: The group's events from at least ``start - 2 * timespan`` up to ``end`` (any order).
        start: The sweep window's start.
        end: The sweep window's end (events at or after it are not known yet).
    """
    ordered = sorted(e for e in events if e.time < end)
    decisions = _decisions(spec, ordered, end)
    span = spec.timespan_ms
    out: list[Match] = []
    last_match: int | None = None
    for i, decided in enumerate(decisions):
        if decided is None:
            continue
        anchor = ordered[i]
        quiet = last_match is None or last_match < anchor.time - span
        last_match = anchor.time
        if quiet and start <= decided < end:
            out.append(_match(spec, ordered, i, decided))
    return out


def _decisions(spec: SequenceSpec, events: list[Event], end: int) -> list[int | None]:
    """Per event: when its window was decided to match, or None (no match, not an anchor, undecided)."""
    if spec.type == "temporal_ordered":
        return _ordered_decisions(spec, events, end)
    if not spec.growing:
        return _closed_decisions(spec, events, end)
    if spec.type == "event_count":
        need, times = spec.need, [e.time for e in events]
        return [
            times[i + need - 1]
            if i + need - 1 < len(times) and times[i + need - 1] - t <= spec.timespan_ms
            else None
            for i, t in enumerate(times)
        ]
    return _growing_distinct(spec, events)


def _keys(spec: SequenceSpec, event: Event) -> Iterable[Hashable]:
    if spec.type == "value_count":
        return () if event.value is None else (event.value,)
    if spec.type == "temporal":
        return event.rules
    return ((event.index, event.id),)  # event_count: every event counts once


class _Distinct:
    """Distinct keys of the events in a sliding window."""

    def __init__(self, spec: SequenceSpec) -> None:
        self.spec = spec
        self.counts: Counter[Hashable] = Counter()

    def add(self, event: Event) -> None:
        self.counts.update(_keys(self.spec, event))

    def remove(self, event: Event) -> None:
        for key in _keys(self.spec, event):
            self.counts[key] -= 1
            if self.counts[key] <= 0:
                del self.counts[key]

    def __len__(self) -> int:
        return len(self.counts)


def _growing_distinct(spec: SequenceSpec, events: list[Event]) -> list[int | None]:
    """value_count / temporal with gt/gte: the first event at which the anchor's window meets the need.

    Two pointers: the window ``events[i:hi]`` only ever grows at ``hi``, because the event that meets the
    need for anchor ``i + 1`` is never before the one for anchor ``i``.
    """
    out: list[int | None] = []
    window, hi = _Distinct(spec), 0
    for i, anchor in enumerate(events):
        if hi <= i:
            window, hi = _Distinct(spec), i
        while (
            len(window) < spec.need and hi < len(events) and events[hi].time - anchor.time <= spec.timespan_ms
        ):
            window.add(events[hi])
            hi += 1
        out.append(events[hi - 1].time if len(window) >= spec.need else None)
        window.remove(anchor)  # the loop above always holds the anchor: the need is at least 1
    return out


def _closed_decisions(spec: SequenceSpec, events: list[Event], end: int) -> list[int | None]:
    """Other conditions: the window is judged once closed, at ``t + timespan`` (which must be before ``end``)."""
    out: list[int | None] = []
    window, hi = _Distinct(spec), 0
    for anchor in events:
        closes = anchor.time + spec.timespan_ms
        while hi < len(events) and events[hi].time <= closes:
            window.add(events[hi])
            hi += 1
        out.append(closes if closes < end and spec.holds(len(window)) else None)
        window.remove(anchor)
    return out


def _next_of(spec: SequenceSpec, events: list[Event]) -> list[list[int]]:
    """``nxt[r][p]``: the first position at or after ``p`` whose event matched rule ``r`` (``len`` if none)."""
    n = len(events)
    nxt = [[n] * (n + 1) for _ in range(spec.rules)]
    for p in range(n - 1, -1, -1):
        for r in range(spec.rules):
            nxt[r][p] = p if r in events[p].rules else nxt[r][p + 1]
    return nxt


def _sequence(spec: SequenceSpec, events: list[Event], nxt: list[list[int]], i: int) -> list[int]:
    """The positions of the rules matched in order from the anchor ``i``, earliest first, within timespan."""
    steps, p = [i], i
    for r in range(1, spec.rules):
        q = nxt[r][p + 1]
        if q >= len(events) or events[q].time - events[i].time > spec.timespan_ms:
            break
        steps.append(q)
        p = q
    return steps


def _ordered_decisions(spec: SequenceSpec, events: list[Event], end: int) -> list[int | None]:
    nxt = _next_of(spec, events)
    out: list[int | None] = []
    for i, anchor in enumerate(events):
        if 0 not in anchor.rules:
            out.append(None)
            continue
        steps = _sequence(spec, events, nxt, i)
        if spec.growing:
            met = len(steps) >= spec.need
            out.append(events[steps[spec.need - 1]].time if met else None)
        else:
            closes = anchor.time + spec.timespan_ms
            out.append(closes if closes < end and spec.holds(len(steps)) else None)
    return out


def _match(spec: SequenceSpec, events: list[Event], i: int, decided: int) -> Match:
    anchor = events[i]
    times = [e.time for e in events]
    stop = bisect.bisect_right(times, anchor.time + spec.timespan_ms)
    window = events[i:stop]
    if spec.type == "temporal_ordered":
        nxt = _next_of(spec, window)
        sequence = tuple(window[p] for p in _sequence(spec, window, nxt, 0))
        return Match(anchor, decided, sequence, len(sequence))
    distinct = _Distinct(spec)
    for event in window:
        distinct.add(event)
    values = tuple(sorted(str(k) for k in distinct.counts)) if spec.type == "value_count" else ()
    return Match(anchor, decided, tuple(window), len(distinct), values)


def group_matches(
    spec: SequenceSpec, groups: Mapping[tuple[str, ...], Sequence[Event]], start: int, end: int
) -> list[tuple[tuple[str, ...], Match]]:
    """:func:`find_matches` over every group, ordered by decision time (then group key)."""
    found = [(key, m) for key, events in groups.items() for m in find_matches(spec, events, start, end)]
    return sorted(found, key=lambda item: (item[1].decided, item[0]))
