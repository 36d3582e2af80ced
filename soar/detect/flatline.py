"""Flatline rules: one alert when a rule matched no event for longer than ``timespan`` (telemetry health).

``soar: flatline: {timespan: 30m}`` on a rule selecting a source (or any query). A silence is the time
after an event ``e`` with no further event for more than ``timespan``; it is decided at ``t(e) + timespan``
and owned by the sweep window holding that moment. For ``[start, end)`` the engine counts events in
buckets of ``timespan / 2`` over ``[start - timespan, end)`` with one ``range`` aggregation (a silence
longer than ``timespan`` always holds a whole empty bucket), then reads, around each run of empty
buckets, the last event before it and the first after it. The alert id hashes the rule and the time of
the last event before the silence: one alert per silence, however many sweeps see it. A rule that never
matched anything raises nothing: there is no event to fall silent after.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from elasticsearch import ApiError

from soar.detect.correlate import to_ms
from soar.detect.group_events import time_range
from soar.detect.models import DetectRule, RuleWindow, RuleWindowResult, SearchWindowInput
from soar.detect.signals import Signal, from_ms, rule_signal, signal_id, write_window
from soar.engines.search import SearchClient, search_error
from soar.errors import SearchError
from soar.telemetry.ecs import format_timestamp

_RANGES_PER_SEARCH = 1000


def _query(item: DetectRule) -> dict[str, Any]:
    must_not = item.exceptions.must_not if item.exceptions else None
    return {"bool": {"filter": [item.rule.query], "must_not": must_not}} if must_not else item.rule.query


def buckets(lo: int, hi: int, width: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` cut into consecutive ``[from, to)`` of ``width`` ms (the last may be shorter)."""
    return [(at, min(at + width, hi)) for at in range(lo, hi, width)]


def empty_runs(counted: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive empty buckets, as ``[from, to)``, from ``(from, to, count)`` in order."""
    runs: list[tuple[int, int]] = []
    for low, high, count in counted:
        if count:
            continue
        if runs and runs[-1][1] == low:
            runs[-1] = (runs[-1][0], high)
        else:
            runs.append((low, high))
    return runs


async def _msearch(
    client: SearchClient, item: DetectRule, searches: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    try:
        response = await client.es.msearch(searches=searches)
    except ApiError as exc:
        raise search_error(exc, f"flatline of {item.rule.rule_id}") from None
    for result in response["responses"]:
        if "error" in result:
            reason = str(result["error"].get("reason", result["error"]))[:300]
            raise SearchError(f"rule {item.rule.rule_id}: flatline search failed: {reason}")
    return list(response["responses"])


async def _count(
    client: SearchClient, item: DetectRule, cut: list[tuple[int, int]]
) -> list[tuple[int, int, int]]:
    """Events per bucket, one range aggregation per at most ``_RANGES_PER_SEARCH`` buckets."""
    field = item.options.time_field
    searches: list[dict[str, Any]] = []
    for n in range(0, len(cut), _RANGES_PER_SEARCH):
        chunk = cut[n : n + _RANGES_PER_SEARCH]
        query = {"bool": {"filter": [_query(item), time_range(field, chunk[0][0], chunk[-1][1])]}}
        ranges = [{"from": low, "to": high} for low, high in chunk]
        searches += [
            {"index": item.rule.index},
            {"query": query, "size": 0, "aggs": {"b": {"range": {"field": field, "ranges": ranges}}}},
        ]
    counted: list[tuple[int, int, int]] = []
    for result in await _msearch(client, item, searches):
        for bucket in result["aggregations"]["b"]["buckets"]:
            counted.append((int(bucket["from"]), int(bucket["to"]), int(bucket["doc_count"])))
    return sorted(counted)


def _edge(
    item: DetectRule, *, before: int | None = None, after: int | None = None, end: int
) -> list[dict[str, Any]]:
    """The search for the last event before ``before``, or the first at or after ``after`` (and before ``end``)."""
    field = item.options.time_field
    if before is not None:
        bound, order = {"lt": before, "format": "epoch_millis"}, "desc"
    else:
        bound, order = {"gte": after, "lt": end, "format": "epoch_millis"}, "asc"
    query = {"bool": {"filter": [_query(item), {"range": {field: bound}}]}}
    return [
        {"index": item.rule.index},
        {"query": query, "size": 1, "sort": [{field: order}], "_source": False},
    ]


async def silences(
    client: SearchClient, item: DetectRule, start: int, end: int, span: int
) -> list[tuple[dict[str, Any], int | None]]:
    """The silences decided in ``[start, end)``: the last event before each, and the time of the next (or None)."""
    lo = start - span
    runs = [
        r for r in empty_runs(await _count(client, item, buckets(lo, end, max(span // 2, 1)))) if r[0] > lo
    ]
    if not runs:
        return []
    searches: list[dict[str, Any]] = []
    for low, high in runs:
        searches += _edge(item, before=low, end=end) + _edge(item, after=high, end=end)
    results = await _msearch(client, item, searches)
    found: list[tuple[dict[str, Any], int | None]] = []
    for n in range(len(runs)):
        before, after = results[2 * n]["hits"]["hits"], results[2 * n + 1]["hits"]["hits"]
        if not before:
            continue
        last = int(before[0]["sort"][0])
        following = int(after[0]["sort"][0]) if after else None
        decided = last + span
        if start <= decided < end and (following is None or following > decided):
            found.append((before[0], following))
    return found


def _signal(rule: DetectRule, hit: dict[str, Any], following: int | None, span: int, text: str) -> Signal:
    last = int(hit["sort"][0])
    return Signal(
        uid=signal_id(rule.rule.rule_id, (), str(last)),
        key=(),
        group_fields=[],
        decided=last + span,
        first=last,
        last=following,
        count=0,
        sources=[(hit["_index"], hit["_id"])],
        reason=f"{rule.rule.title}: no event for more than {text} after {hit['_index']}/{hit['_id']}",
        details={
            "timespan": text,
            "silent_until": None if following is None else format_timestamp(from_ms(following)),
        },
    )


async def run_flatline(
    client: SearchClient, spec: SearchWindowInput, item: RuleWindow, rule: DetectRule
) -> RuleWindowResult:
    """Alert on each silence of the rule decided in the window."""
    opts = rule.options.flatline
    assert opts is not None  # the caller dispatches flatline rules here
    span = opts.timespan // timedelta(milliseconds=1)
    found = await silences(client, rule, to_ms(item.window.start), to_ms(item.window.end), span)
    text = f"{int(opts.timespan.total_seconds())}s"
    signals = [_signal(rule, hit, following, span, text) for hit, following in found]
    return await write_window(client, spec, item, rule_signal(rule, "flatline", {"timespan": text}), signals)
