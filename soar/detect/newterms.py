"""New terms rules: one alert when a rule's ``fields`` value tuple shows up that was not seen in ``history``.

``soar: new_terms: {fields: [user.name, source.geo.country_iso_code], history: 7d}``. For a window
``[start, end)`` a composite aggregation over the fields, on the rule's events in ``[start - history, end)``,
gives each tuple's first sighting (``min`` of the time field). A tuple first seen inside the window was not
seen in the ``history`` before it: it is new, and its first event becomes the alert (the source document is
copied, as for a single-event rule). The alert id hashes the rule, the tuple and the time of that first
sighting, so a sweep overlapping the window finds the same alert, and a later one no longer sees it as new.

Warm-up: a tuple is judged only when the rule's indices hold ``history`` of data before its first sighting
(their first event, of any kind, is at least ``history`` older); on fresh data everything would look new.
So ``history`` must be shorter than the retention of those indices, or the rule never alerts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from elasticsearch import ApiError

from soar.detect.correlate import to_ms
from soar.detect.group_events import time_range
from soar.detect.models import DetectRule, RuleWindow, RuleWindowResult, SearchWindowInput
from soar.detect.signals import Signal, rule_signal, signal_id, write_window
from soar.engines.search import SearchClient, search_error
from soar.errors import SearchError
from soar.rules.fieldmaps import map_field

_PAGE = 1000


def _query(item: DetectRule) -> dict[str, Any]:
    must_not = item.exceptions.must_not if item.exceptions else None
    return {"bool": {"filter": [item.rule.query], "must_not": must_not}} if must_not else item.rule.query


async def _search(client: SearchClient, index: str, body: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        response = await client.es.search(index=index, **body)
    except ApiError as exc:
        raise search_error(exc, what) from None
    return dict(response)


async def _earliest(client: SearchClient, item: DetectRule, time_field: str) -> int | None:
    """The time (ms) of the first event of the rule's indices, matching or not (None: they are empty)."""
    body = {"size": 0, "aggs": {"first": {"min": {"field": time_field}}}}
    response = await _search(client, item.rule.index, body, f"new terms of {item.rule.rule_id}")
    value = response.get("aggregations", {}).get("first", {}).get("value")
    return None if value is None else int(value)


async def _new_tuples(
    client: SearchClient, item: DetectRule, fields: list[str], bounds: tuple[int, int, int], time_field: str
) -> list[tuple[tuple[Any, ...], int]]:
    """Tuples whose first sighting in ``[lo, end)`` is at or after ``start``: ``(values, first ms)``."""
    lo, start, end = bounds
    query = {"bool": {"filter": [_query(item), time_range(time_field, lo, end)]}}
    sources = [{f"f{n}": {"terms": {"field": name}}} for n, name in enumerate(fields)]
    found: list[tuple[tuple[Any, ...], int]] = []
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": _PAGE, "sources": sources, **({"after": after} if after else {})}
        aggs = {"tuples": {"composite": composite, "aggs": {"first": {"min": {"field": time_field}}}}}
        response = await _search(
            client,
            item.rule.index,
            {"query": query, "size": 0, "aggs": aggs},
            f"new terms of {item.rule.rule_id}",
        )
        agg = response["aggregations"]["tuples"]
        for bucket in agg["buckets"]:
            first = int(bucket["first"]["value"])
            if start <= first < end:
                found.append((tuple(bucket["key"][f"f{n}"] for n in range(len(fields))), first))
        if len(agg["buckets"]) < _PAGE or "after_key" not in agg:
            return found
        after = agg["after_key"]


async def _first_hits(
    client: SearchClient,
    item: DetectRule,
    fields: list[str],
    tuples: list[tuple[tuple[Any, ...], int]],
    time_field: str,
) -> list[dict[str, Any]]:
    """The event of each tuple's first sighting (one of them, when several share the millisecond)."""
    hits: list[dict[str, Any]] = []
    for chunk in range(0, len(tuples), _PAGE):
        searches: list[dict[str, Any]] = []
        for values, first in tuples[chunk : chunk + _PAGE]:
            terms = [{"term": {name: value}} for name, value in zip(fields, values, strict=True)]
            query = {"bool": {"filter": [_query(item), time_range(time_field, first, first + 1), *terms]}}
            searches += [
                {"index": item.rule.index},
                {"query": query, "size": 1, "sort": [{time_field: "asc"}]},
            ]
        try:
            response = await client.es.msearch(searches=searches)
        except ApiError as exc:
            raise search_error(exc, f"new terms of {item.rule.rule_id}") from None
        for result in response["responses"]:
            if "error" in result or not result["hits"]["hits"]:
                raise SearchError(
                    f"rule {item.rule.rule_id}: the first sighting of a new term could not be read"
                )
            hits.append(result["hits"]["hits"][0])
    return hits


def _signal(
    rule: DetectRule, fields: list[str], found: tuple[tuple[Any, ...], int], hit: dict[str, Any], history: str
) -> Signal:
    values, first = found
    named = ", ".join(f"{f}={v}" for f, v in zip(fields, values, strict=True))
    return Signal(
        uid=signal_id(rule.rule.rule_id, tuple(values), str(first)),
        key=tuple(values),
        group_fields=fields,
        decided=first,
        first=first,
        last=first,
        count=1,
        sources=[(hit["_index"], hit["_id"])],
        reason=f"{rule.rule.title}: new {named}",
        details={"history": history, "fields": fields},
        document=hit.get("_source") or {},
    )


async def run_new_terms(
    client: SearchClient, spec: SearchWindowInput, item: RuleWindow, rule: DetectRule
) -> RuleWindowResult:
    """Alert on the value tuples first seen in the window (none while the rule is warming up)."""
    opts = rule.options.new_terms
    assert opts is not None  # the caller dispatches new terms rules here
    fields = [map_field(rule.rule.source, f) for f in opts.fields]
    history, time_field = opts.history // timedelta(milliseconds=1), rule.options.time_field
    start, end = to_ms(item.window.start), to_ms(item.window.end)
    earliest = await _earliest(client, rule, time_field)
    tuples = []
    if earliest is not None:
        found = await _new_tuples(client, rule, fields, (start - history, start, end), time_field)
        tuples = sorted((t for t in found if t[1] - history >= earliest), key=lambda t: (t[1], str(t[0])))
    hits = await _first_hits(client, rule, fields, tuples, time_field)
    text = f"{int(opts.history.total_seconds())}s"
    signals = [_signal(rule, fields, t, hit, text) for t, hit in zip(tuples, hits, strict=True)]
    signal_rule = rule_signal(rule, "new_terms", {"fields": fields, "history": text})
    return await write_window(client, spec, item, signal_rule, signals)
