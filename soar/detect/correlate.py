"""Sigma correlations and threshold rules in one sweep window: groups, their ordered events, sliding windows, alerts.

For a window ``[start, end)`` the engine searches ``[start - 2 * timespan, end)`` (the reach of a decision,
see :mod:`soar.detect.sequences`): candidate groups come from composite aggregations over the group-by
fields, one per referenced rule (:mod:`soar.detect.group_events`); a group that cannot meet a ``gt``/``gte``
condition anywhere in the range (too few events, distinct values or rules) is dropped before its events
are read. The rest are slid over exactly, in Python. A threshold rule (``soar: threshold:``) is an
``event_count`` correlation over the rule itself, grouped by its ``field``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from soar.detect.group_events import Bucket, Groups, Key, Part, complete, read_groups
from soar.detect.models import DetectCorrelation, DetectRule, RuleWindow, RuleWindowResult, SearchWindowInput
from soar.detect.sequences import Bound, Event, Match, SequenceSpec, group_matches
from soar.detect.signals import MAX_SOURCES, Signal, SignalRule, rule_signal, signal_id, write_window
from soar.engines.search import SearchClient
from soar.rules.fieldmaps import map_field

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# cardinality is exact below its precision threshold in practice, but only "close to" it by contract:
# a group this close to a value_count condition is still read, so pruning never loses a match.
_DISTINCT_SLACK = 0.05


def to_ms(moment: datetime) -> int:
    """An aware datetime in whole milliseconds since the epoch (exact integer arithmetic)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True)
class CorrelationPlan:
    """A correlation or threshold rule as the engine executes it."""

    rule: SignalRule
    spec: SequenceSpec
    parts: list[Part]
    timespan: str
    condition: str


def _with_exceptions(query: dict[str, Any], must_not: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {"bool": {"filter": [query], "must_not": must_not}} if must_not else query


def _condition_text(spec: SequenceSpec) -> str:
    if not spec.bounds:
        order = " in order" if spec.type == "temporal_ordered" else ""
        return f"all {spec.rules} rules{order}"
    return " and ".join(f"{b.op} {b.value}" for b in spec.bounds)


def correlation_plan(item: DetectCorrelation) -> CorrelationPlan:
    """The plan of a Sigma correlation."""
    c = item.correlation
    value_field = c.condition.field if c.type == "value_count" and c.condition else None
    parts = []
    for position, rule in enumerate(c.rules):
        exceptions = item.part_exceptions.get(rule.rule_id)
        query = _with_exceptions(rule.query, exceptions.must_not if exceptions else None)
        fields = c.group_by_fields.get(rule.rule_id, [])
        parts.append(Part(position, rule.rule_id, rule.index, query, fields, value_field))
    bounds = tuple(Bound(b.op, b.count) for b in c.condition.bounds) if c.condition else ()
    spec = SequenceSpec(c.type, len(c.rules), c.timespan_seconds * 1000, bounds)
    versions = sorted({v for e in item.part_exceptions.values() for v in e.versions})
    shape = {
        "type": c.type,
        "rules": [r.rule_id for r in c.rules],
        "group_by": c.group_by_fields,
        "timespan": c.timespan,
        "condition": c.condition.model_dump() if c.condition else None,
    }
    signal = SignalRule(
        c.rule_id,
        c.title,
        c.level,
        c.version,
        c.content_hash,
        c.tags,
        ",".join(dict.fromkeys(r.index for r in c.rules)),
        {"correlation": shape},
        c.type,
        item.options,
        versions,
    )
    return CorrelationPlan(signal, spec, parts, c.timespan, _condition_text(spec))


def threshold_plan(item: DetectRule) -> CorrelationPlan:
    """The plan of a threshold rule: an ``event_count`` correlation over the rule, grouped by its fields."""
    rule, threshold = item.rule, item.options.threshold
    assert threshold is not None  # the caller dispatches threshold rules here
    fields = [map_field(rule.source, f) for f in threshold.field]
    query = _with_exceptions(rule.query, item.exceptions.must_not if item.exceptions else None)
    span = int(threshold.timespan.total_seconds())
    spec = SequenceSpec("event_count", 1, span * 1000, (Bound("gte", threshold.count),))
    signal = rule_signal(
        item, "threshold", {"field": fields, "count": threshold.count, "timespan": f"{span}s"}
    )
    return CorrelationPlan(
        signal, spec, [Part(0, rule.rule_id, rule.index, query, fields)], f"{span}s", _condition_text(spec)
    )


def _may_match(spec: SequenceSpec, buckets: dict[int, Bucket]) -> bool:
    """Whether a group could meet a growing condition somewhere in the range (an upper bound of each count)."""
    need = spec.need
    if spec.type == "event_count":
        return sum(b.doc_count for b in buckets.values()) >= need
    if spec.type == "value_count":
        return sum(b.distinct for b in buckets.values()) >= need * (1 - _DISTINCT_SLACK) - 1
    if spec.type == "temporal_ordered" and 0 not in buckets:
        return False
    return len(buckets) >= need


def candidates(spec: SequenceSpec, groups: Groups) -> list[Key]:
    """The groups whose events are worth reading: all of them unless the condition only grows."""
    return [key for key, buckets in groups.parts.items() if not spec.growing or _may_match(spec, buckets)]


async def _complete_groups(
    client: SearchClient,
    plan: CorrelationPlan,
    groups: Groups,
    keys: list[Key],
    bounds: tuple[int, int],
    *,
    time_field: str,
    cap: int,
    concurrency: int,
) -> bool:
    """Read the rest of every candidate group's events; True when a group was cut at the cap."""
    gate = asyncio.Semaphore(concurrency)
    by_position = {part.position: part for part in plan.parts}

    async def one(part: Part, bucket: Bucket) -> bool:
        async with gate:
            return await complete(client, part, bucket, time_field, bounds[0], bounds[1], cap)

    jobs = [
        one(by_position[position], bucket)
        for key in keys
        for position, bucket in groups.parts[key].items()
        if not bucket.complete
    ]
    return not all(await asyncio.gather(*jobs))


def _merged(buckets: dict[int, Bucket]) -> list[Event]:
    """A group's events from every part, an event matched by several rules once with all its rules."""
    found: dict[tuple[str, str], Event] = {}
    for bucket in buckets.values():
        for event in bucket.events:
            seen = found.get((event.index, event.id))
            found[(event.index, event.id)] = (
                event
                if seen is None
                else Event(
                    event.time, event.index, event.id, seen.rules | event.rules, seen.value or event.value
                )
            )
    return list(found.values())


def _signal(plan: CorrelationPlan, key: Key, raw: tuple[Any, ...], match: Match) -> Signal:
    fields = plan.parts[0].group_fields
    group = ", ".join(f"{f}={v}" for f, v in zip(fields, raw, strict=True)) or "all events"
    what = {
        "event_count": "events",
        "value_count": "distinct values",
        "temporal": "rules",
        "temporal_ordered": "rules in order",
    }[plan.spec.type]
    details: dict[str, Any] = {"condition": plan.condition, "timespan": plan.timespan}
    if plan.spec.type == "value_count":
        details["field"] = plan.parts[0].value_field
        details["values"] = [json.loads(v) for v in match.values[:MAX_SOURCES]]
    return Signal(
        uid=signal_id(plan.rule.rule_id, key, f"{match.first.index}/{match.first.id}"),
        key=raw,
        group_fields=fields,
        decided=match.decided,
        first=match.first.time,
        last=match.last.time,
        count=match.count,
        sources=[(e.index, e.id) for e in match.events],
        reason=f"{plan.rule.title}: {match.count} {what} for {group} within {plan.timespan}",
        details=details,
    )


async def run_correlation(
    client: SearchClient, spec: SearchWindowInput, item: RuleWindow, plan: CorrelationPlan
) -> RuleWindowResult:
    """Find the window's matches of a correlation (or threshold rule) and write their alerts."""
    start, end = to_ms(item.window.start), to_ms(item.window.end)
    time_field = item.rule.options.time_field
    bounds = (start - 2 * plan.spec.timespan_ms, end)
    groups = await read_groups(client, plan.parts, time_field, *bounds, concurrency=spec.concurrency)
    keys = candidates(plan.spec, groups)
    truncated = await _complete_groups(
        client,
        plan,
        groups,
        keys,
        bounds,
        time_field=time_field,
        cap=spec.max_group_events,
        concurrency=spec.concurrency,
    )
    events = {key: _merged(groups.parts[key]) for key in keys}
    raws = {key: next(iter(groups.parts[key].values())).raw for key in keys}
    found = group_matches(plan.spec, events, start, end)
    signals = [_signal(plan, key, raws[key], match) for key, match in found]
    return await write_window(client, spec, item, plan.rule, signals, truncated=truncated)
