"""Run compiled rules over a few events in a fresh index of the source's template (``soar rules match``/``test``).

Events are indexed with their 1-based line number as ``_id`` into ``soar-match-<random>``, created with
the mappings of the rule's source (so the query meets the same field types as in production), then the
compiled query runs in the engine and the matching line numbers come back. The index is deleted
afterwards. Correlations run each referenced rule's query the same way and evaluate the window,
grouping and condition over the hits in memory (a test harness, not the detection engine's sweep).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from elasticsearch import ApiError

from soar.engines.search import SearchClient, search_error
from soar.errors import InputError
from soar.rules.models import CompiledCorrelation, CompiledRule
from soar.telemetry.normalise import DeadLetter, Normalised, normalise_lines
from soar.telemetry.sources import Source
from soar.telemetry.templates import index_template

Event = tuple[int, dict[str, Any]]  # 1-based line number, ECS document


def read_events(path: Path, source: Source | None) -> list[Event]:
    """The events of an NDJSON file: raw records of ``source`` normalised, else ECS documents as given.

    Raises:
        InputError: The file cannot be read, or a line is not JSON / does not normalise (file:line).
    """
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    if source is not None:
        events: list[Event] = []
        for item in normalise_lines(source, lines, file=str(path)):
            if isinstance(item, DeadLetter):
                raise InputError(
                    f"does not normalise as {source.value}: {item.error}", file=str(path), line=item.line
                )
            events.append((item.line, item.document))
        return events
    return [_ecs_line(path, number, line) for number, line in enumerate(lines, 1) if line.strip()]


def _ecs_line(path: Path, number: int, line: str) -> Event:
    try:
        document = json.loads(line)
    except ValueError as exc:
        raise InputError(f"not JSON: {exc}", file=str(path), line=number) from None
    if not isinstance(document, dict):
        raise InputError("an event must be a JSON object", file=str(path), line=number)
    return number, document


@asynccontextmanager
async def event_index(client: SearchClient, source: Source, events: Sequence[Event]) -> AsyncIterator[str]:
    """A fresh index with the source's mappings holding the events (``_id`` = line), deleted on exit."""
    name = f"soar-match-{uuid.uuid4().hex[:16]}"
    mappings = index_template(source, opensearch=client.is_opensearch)["template"]["mappings"]
    try:
        await client.es.indices.create(index=name, mappings=mappings, settings={"number_of_shards": 1})
        try:
            await _index_events(client, name, events)
            yield name
        finally:
            await client.es.indices.delete(index=name, ignore_unavailable=True)
    except ApiError as exc:
        raise search_error(exc, f"indexing test events into {name}") from None


async def _index_events(client: SearchClient, index: str, events: Sequence[Event]) -> None:
    if not events:
        return
    operations: list[dict[str, Any]] = []
    for line, document in events:
        operations += [{"index": {"_index": index, "_id": str(line)}}, document]
    response = await client.es.bulk(operations=operations, refresh=True)
    for item in response["items"]:
        outcome = next(iter(item.values()))
        if outcome.get("error"):
            error = outcome["error"]
            reason = error.get("reason", error) if isinstance(error, dict) else error
            raise InputError(f"event rejected by the search engine: {reason}", line=int(outcome["_id"]))


async def search_lines(client: SearchClient, index: str, query: dict[str, Any], size: int) -> list[Hit]:
    """Every hit of a query in an event index, as line numbers with their documents."""
    try:
        response = await client.es.search(index=index, query=query, size=max(size, 1), track_total_hits=True)
    except ApiError as exc:
        raise search_error(exc, "running the rule's query") from None
    return sorted(Hit(int(h["_id"]), h.get("_source") or {}) for h in response["hits"]["hits"])


@dataclass(frozen=True, order=True)
class Hit:
    """A matching event: its line number and document."""

    line: int
    document: dict[str, Any]


async def match_rule(client: SearchClient, rule: CompiledRule, events: Sequence[Event]) -> list[int]:
    """The 1-based line numbers of the events the rule matches, run in the engine."""
    async with event_index(client, rule.source, events) as index:
        return [hit.line for hit in await search_lines(client, index, rule.query, len(events))]


def read_mixed_events(path: Path, sources: Sequence[Source]) -> dict[Source, list[Event]]:
    """Raw records of several sources in one file: each line goes to the first source that normalises it.

    Raises:
        InputError: The file cannot be read, or a line normalises as none of the sources (file:line).
    """
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    out: dict[Source, list[Event]] = {source: [] for source in sources}
    for number, line in enumerate(lines, 1):
        errors = []
        for source in sources:
            (item,) = normalise_lines(source, [line]) if line.strip() else [None]
            if isinstance(item, Normalised):
                out[source].append((number, item.document))
                break
            errors.append(f"{source.value}: {item.error}" if isinstance(item, DeadLetter) else "")
        else:
            if line.strip():
                raise InputError(
                    f"normalises as none of the rules' sources ({'; '.join(errors)})",
                    file=str(path),
                    line=number,
                )
    return out


async def correlation_fires(
    client: SearchClient, correlation: CompiledCorrelation, events: Mapping[Source, Sequence[Event]]
) -> bool:
    """True when the events (by source), taken as a whole, fire the correlation."""
    async with AsyncExitStack() as stack:
        indices = {
            source: await stack.enter_async_context(event_index(client, source, found))
            for source, found in events.items()
        }
        matched: list[_Matched] = []
        for position, rule in enumerate(correlation.rules):
            if rule.source not in indices:
                continue
            fields = correlation.group_by_fields.get(rule.rule_id, [])
            for hit in await search_lines(client, indices[rule.source], rule.query, len(events[rule.source])):
                group = tuple(_value(hit.document, f) for f in fields)
                matched.append(_Matched(_time(hit.document), position, group, hit.document))
    return evaluate(correlation, matched)


def correlation_sources(correlation: CompiledCorrelation) -> list[Source]:
    """The sources of a correlation's rules, in rule order, each once."""
    return list(dict.fromkeys(rule.source for rule in correlation.rules))


@dataclass(frozen=True)
class _Matched:
    time: float
    rule: int  # position of the referenced rule in the correlation
    group: tuple[Any, ...]
    document: dict[str, Any]


def evaluate(correlation: CompiledCorrelation, matched: list[_Matched]) -> bool:
    """Whether some group has a window of ``timespan`` in which the correlation's condition holds."""
    groups: dict[tuple[Any, ...], list[_Matched]] = {}
    for item in sorted(matched, key=lambda m: (m.time, m.rule)):
        groups.setdefault(tuple(json.dumps(v, sort_keys=True) for v in item.group), []).append(item)
    span = correlation.timespan_seconds
    for items in groups.values():
        for start, first in enumerate(items):
            window = [m for m in items[start:] if m.time - first.time <= span]
            if _holds(correlation, window):
                return True
    return False


def _holds(correlation: CompiledCorrelation, window: list[_Matched]) -> bool:
    condition = correlation.condition
    if correlation.type == "temporal_ordered":
        want = 0
        for item in window:
            want += item.rule == want
        return want == len(correlation.rules)
    if correlation.type == "temporal":
        return len({m.rule for m in window}) == len(correlation.rules)
    if condition is None:
        return False
    if correlation.type == "value_count":
        values = {json.dumps(_value(m.document, condition.field or ""), sort_keys=True) for m in window}
        count = len(values - {"null"})
    else:
        count = len(window)
    return all(_compare(b.op, count, b.count) for b in condition.bounds)  # a range has two bounds


def _compare(op: str, count: int, threshold: int) -> bool:
    return {
        "gt": count > threshold,
        "gte": count >= threshold,
        "lt": count < threshold,
        "lte": count <= threshold,
        "eq": count == threshold,
        "neq": count != threshold,
    }[op]


def _value(document: dict[str, Any], field: str) -> Any:
    if field in document:
        return document[field]
    node: Any = document
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _time(document: dict[str, Any]) -> float:
    raw = document.get("@timestamp")
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
