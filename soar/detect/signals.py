"""Alerts that stand for many events or none: correlations, thresholds, new terms and flatlines.

Such an alert is not one hit. Its id is ``sha256(rule id, group key, anchor)``, where the anchor is the
first event of the matching sequence (a new term: the time of its first sighting; a flatline: the last
event before the silence), written with ``op_type: create`` like every alert, so overlapping sweeps never
write it twice. The document has the shape of a single-event alert (``soar.alert.*``, so routing, the
hand-over and ``soar alerts`` read it alike) with the group-by values at their ECS paths, and:

| field | |
| --- | --- |
| ``soar.alert.group.id`` | sha256(rule id, group key)[:40]: shared by every alert of that group-by value tuple |
| ``soar.alert.group.values`` | the group-by values by field |
| ``soar.alert.correlation`` | ``type``, ``count``, ``condition``, ``timespan``, ``first``, ``last``, the contributing events ``sources`` (at most 100) and ``sources_total``, the distinct ``values`` (value_count, at most 100) |
| ``soar.alert.source`` | the anchor event (the alert's first event), so a hand-over has one event to start from |
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from soar.detect.alert_store import create_alerts
from soar.detect.alerts import alerts_index, attack
from soar.detect.models import DetectRule, RuleWindow, RuleWindowResult, SearchWindowInput, Window
from soar.detect.risk import assess
from soar.detect.settings import RuleOptions
from soar.engines.search import SearchClient
from soar.telemetry.ecs import format_timestamp

MAX_SOURCES = 100  # contributing events listed in one alert; sources_total has them all


def signal_id(rule_id: str, key: tuple[Any, ...], anchor: str) -> str:
    """The id of an aggregate alert: the same rule, group and anchor give the same id, always."""
    text = json.dumps([rule_id, list(key), anchor], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def group_key_id(rule_id: str, key: tuple[Any, ...]) -> str:
    """``soar.alert.group.id``: one id per rule and group-by value tuple."""
    text = json.dumps([rule_id, list(key)], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def from_ms(value: int) -> datetime:
    """A time in milliseconds since the epoch as an aware UTC datetime."""
    return datetime.fromtimestamp(value / 1000, UTC)


@dataclass(frozen=True)
class SignalRule:
    """What every alert of one aggregate rule shares: the rule as it ran."""

    rule_id: str
    title: str
    level: str | None
    version: str | None
    content_hash: str
    tags: list[str]
    index: str
    query: dict[str, Any]  # what ran: a correlation's spec, a rule's query and its soar: kind
    kind: str  # correlation type, threshold, new_terms or flatline
    options: RuleOptions
    exceptions: list[str] = field(default_factory=list)  # exception versions applied (id@version)


def rule_signal(item: DetectRule, kind: str, spec: dict[str, Any]) -> SignalRule:
    """The :class:`SignalRule` of a threshold, new terms or flatline rule; ``spec`` is its ``soar:`` kind as run."""
    rule = item.rule
    versions = item.exceptions.versions if item.exceptions else []
    return SignalRule(
        rule.rule_id,
        rule.title,
        rule.level,
        rule.version,
        rule.content_hash,
        rule.tags,
        rule.index,
        {"query": rule.query, kind: spec},
        kind,
        item.options,
        versions,
    )


@dataclass(frozen=True)
class Signal:
    """One aggregate alert to write."""

    uid: str
    key: tuple[Any, ...]
    group_fields: list[str]
    decided: int  # ms: when the alert was decided; a capped run's checkpoint stops at the last written
    first: int  # ms: the first event (flatline: the last event before the silence)
    last: int | None  # ms: the last event (flatline: the first after it, None while still silent)
    count: int
    sources: list[tuple[str, str]]  # (index, id), anchor first
    reason: str
    details: dict[str, Any] = field(default_factory=dict)  # condition, timespan, values, ...
    document: dict[str, Any] | None = None  # a source document to copy (new terms: the first sighting)


@dataclass(frozen=True)
class SignalContext:
    """What every alert of one rule window shares."""

    rule: SignalRule
    group_id: str
    run_id: str
    window: Window
    created: datetime


def _set_path(document: dict[str, Any], path: str, value: Any) -> None:
    node = document
    *parents, leaf = path.split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def signal_document(ctx: SignalContext, signal: Signal) -> dict[str, Any]:
    """The alert document of one aggregate alert (group-by values at their ECS paths plus ``soar.alert.*``)."""
    doc = dict(signal.document or {})
    doc.pop("soar", None)  # a source document never speaks for the alert
    for name, value in zip(signal.group_fields, signal.key, strict=True):
        _set_path(doc, name, value)
    risk = assess(ctx.rule.options, ctx.rule.level, doc)
    doc["@timestamp"] = format_timestamp(ctx.created)
    doc["event"] = {**(doc.get("event") or {}), "kind": "signal"}
    doc["soar"] = {"alert": _fields(ctx, signal, risk.severity, risk.risk_score)}
    return doc


def _rule_fields(ctx: SignalContext) -> dict[str, Any]:
    rule = ctx.rule
    return {
        "uuid": rule.rule_id,
        "name": rule.title,
        "version": rule.version,
        "content_hash": rule.content_hash,
        "query": json.dumps(rule.query, sort_keys=True, separators=(",", ":")),
        "index": rule.index,
        "tags": rule.tags,
        "group": ctx.group_id,
        "time_field": rule.options.time_field,
        "type": rule.kind,
    }


def _fields(ctx: SignalContext, signal: Signal, severity: str, risk_score: int) -> dict[str, Any]:
    rule = ctx.rule
    index, source_id = signal.sources[0]
    last = None if signal.last is None else format_timestamp(from_ms(signal.last))
    return {
        "uuid": signal.uid,
        "status": "active",
        "workflow_status": "open",
        "severity": severity,
        "risk_score": risk_score,
        "building_block": (rule.level or "medium") == "informational",
        "original_time": format_timestamp(from_ms(signal.first)),
        "reason": signal.reason,
        "rule": _rule_fields(ctx),
        "threat": attack(rule.tags),
        "window": {"start": format_timestamp(ctx.window.start), "end": format_timestamp(ctx.window.end)},
        "source": {"index": index, "id": source_id},
        "matched_queries": [],
        "group": {
            "id": group_key_id(rule.rule_id, signal.key),
            "values": dict(zip(signal.group_fields, signal.key, strict=True)),
        },
        "correlation": {
            "type": rule.kind,
            "count": signal.count,
            "first": format_timestamp(from_ms(signal.first)),
            "last": last,
            "sources": [{"index": i, "id": d} for i, d in signal.sources[:MAX_SOURCES]],
            "sources_total": len(signal.sources),
            **signal.details,
        },
        "exceptions": {"hash": None, "versions": rule.exceptions},
        "run_id": ctx.run_id,
        "handover": {"status": "pending"},
        "workflow_id": None,
    }


@dataclass
class Written:
    """How many alerts a write created, and how many existed already."""

    created: int = 0
    duplicates: int = 0


async def write_signals(
    client: SearchClient, index: str, ctx: SignalContext, signals: list[Signal]
) -> Written:
    """Write aggregate alerts with ``op_type: create``; an existing one (409) counts as a duplicate.

    Raises:
        SearchError: the write failed, or the engine refused an alert for another reason than a conflict.
    """
    documents = [(signal.uid, signal_document(ctx, signal)) for signal in signals]
    created = await create_alerts(client, index, ctx.rule.rule_id, documents)
    return Written(created=sum(created), duplicates=len(created) - sum(created))


async def write_until(
    client: SearchClient, index: str, ctx: SignalContext, signals: list[Signal], room: int
) -> tuple[Written, int]:
    """Write signals in order until ``room`` new alerts exist (duplicates do not count); how many were handled."""
    out, handled = Written(), 0
    while handled < len(signals) and out.created < room:
        batch = signals[handled : handled + room - out.created]
        written = await write_signals(client, index, ctx, batch)
        out.created += written.created
        out.duplicates += written.duplicates
        handled += len(batch)
    return out, handled


async def write_window(
    client: SearchClient,
    spec: SearchWindowInput,
    item: RuleWindow,
    rule: SignalRule,
    signals: list[Signal],
    *,
    truncated: bool = False,
) -> RuleWindowResult:
    """Write a window's aggregate alerts in decision order, at most the item's cap of new ones.

    When the cap stops the writing, ``reached`` is the decision time of the last alert written: the next
    run starts there, and what it finds again is a duplicate.
    """
    # Made now, when the window's decisions are in: an alert's @timestamp is when it came to be.
    ctx = SignalContext(rule, spec.group_id, spec.run_id, item.window, datetime.now(UTC))
    ordered = sorted(signals, key=lambda s: (s.decided, s.uid))
    written, handled = await write_until(client, alerts_index(spec.namespace), ctx, ordered, item.max_alerts)
    capped = handled < len(ordered)
    return RuleWindowResult(
        rule_id=rule.rule_id,
        hits=len(ordered),
        created=written.created,
        duplicates=written.duplicates,
        capped=capped,
        truncated=truncated,
        reached=from_ms(ordered[handled - 1].decided) if capped else item.window.end,
    )
