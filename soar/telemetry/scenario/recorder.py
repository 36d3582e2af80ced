"""Collecting raw records per source and rendering them as time-ordered JSON lines."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from soar.telemetry.scenario.world import World
from soar.telemetry.sources import Source

# The key of each source's native event id, the one StoryTruth.events lists.
ID_KEYS: dict[Source, str] = {
    Source.ENVOY: "request_id",
    Source.KEYCLOAK: "id",
    Source.OKTA: "uuid",
    Source.OPA: "decision_id",
    Source.KUBERNETES: "auditID",
    Source.APP: "event_id",
}
_MS = timedelta(milliseconds=1)
# One compact encoder for every line: json.dumps would build a new one per call.
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class Recorder:
    """Raw records of every source, each kept with the instant it happened."""

    def __init__(self) -> None:
        self._records: dict[Source, list[tuple[datetime, int, dict[str, Any]]]] = {s: [] for s in Source}
        self._seq = 0

    def add(self, source: Source, at: datetime, record: dict[str, Any]) -> str:
        """Keep one record; returns its native event id."""
        self._seq += 1
        self._records[source].append((at, self._seq, record))
        return str(record[ID_KEYS[source]])

    def render(self) -> dict[Source, list[str]]:
        """Every source's records as compact JSON lines, sorted by time (ties keep insertion order)."""
        out: dict[Source, list[str]] = {}
        for source, items in self._records.items():
            items.sort(key=lambda item: (item[0], item[1]))
            out[source] = [_ENCODE(rec) for _, _, rec in items]
        return out


@dataclass
class Trail:
    """The records one story wrote, by source value, in the order written."""

    events: dict[str, list[str]] = field(default_factory=dict)
    first: datetime | None = None
    last: datetime | None = None

    def add(self, source: Source, event_id: str, at: datetime) -> str:
        """Note that ``event_id`` of ``source``, written at ``at``, belongs to the story."""
        self.events.setdefault(source.value, []).append(event_id)
        self.first = at if self.first is None else min(self.first, at)
        self.last = at if self.last is None else max(self.last, at)
        return event_id


@dataclass
class Context:
    """What every benign generator and story writes with: RNG, world, recorder and the window."""

    rng: random.Random
    world: World
    rec: Recorder
    start: datetime
    end: datetime
    attack_scale: float

    def __post_init__(self) -> None:
        # Whole milliseconds, so that no timestamp format truncates an instant out of the window.
        self._low = self.start + (_MS - timedelta(microseconds=self.start.microsecond % 1000)) % _MS
        self._high = self.end - timedelta(microseconds=self.end.microsecond % 1000)

    def clamp(self, at: datetime) -> datetime:
        """``at`` on a whole millisecond (every format shows it exactly) and inside the window."""
        if at < self._low:
            return self._low
        if at > self._high:
            return self._high
        return at - timedelta(microseconds=at.microsecond % 1000)

    def emit(self, source: Source, at: datetime, record: dict[str, Any], trail: Trail | None = None) -> str:
        """Record one event (the builder already formatted ``at`` into it); returns its id."""
        event_id = self.rec.add(source, at, record)
        if trail is not None:
            trail.add(source, event_id, at)
        return event_id

    def place(self, duration: timedelta, margin: timedelta = timedelta(minutes=20)) -> datetime:
        """A random start for a story lasting ``duration``, so that it ends inside the window."""
        span = (self.end - self.start) - duration - 2 * margin
        seconds = max(0.0, span.total_seconds())
        return self.start + margin + timedelta(seconds=self.rng.uniform(0, seconds))

    def scaled(self, count: int, minimum: int = 1) -> int:
        """``count`` times the scenario's attack scale, at least ``minimum``."""
        return max(minimum, round(count * self.attack_scale))
