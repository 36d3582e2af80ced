"""Reading a correlation's events by group: candidate groups by composite aggregation, then their ordered events.

For each referenced rule (a *part*: its index, query and group-by fields), one composite aggregation over
the group-by fields pages through every group in the search range, all parts in one ``_msearch`` per
page. Each bucket carries its event count, the distinct count of the value field (``cardinality``) and
its first ``EVENTS_PER_BUCKET`` events by time (``top_hits``), which is every event of most groups. The
caller keeps the groups that can still match (:func:`soar.detect.correlate.candidates`) and asks for the
rest of their events with :func:`complete`: a point in time over the group's events, sorted by time, up to
``max_group_events`` per group and part (a group with more is evaluated on its first ones and reported).
Events missing a group-by field belong to no group (composite buckets skip them), as in Sigma backends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError

from soar.detect.pit import PointInTime
from soar.detect.risk import field_values
from soar.detect.sequences import Event
from soar.engines.search import SearchClient, search_error
from soar.errors import SearchError

EVENTS_PER_BUCKET = 100  # top_hits per group and part in the first pass (Elasticsearch's default maximum)
GROUPS_PER_PAGE = 250
Key = tuple[str, ...]  # a group's values, each as JSON text (the same value from two parts, the same key)


@dataclass(frozen=True)
class Part:
    """A referenced rule as a correlation searches it."""

    position: int
    rule_id: str
    index: str
    query: dict[str, Any]  # the rule's query, exceptions already applied
    group_fields: list[str]
    value_field: str | None = None  # value_count: the field whose distinct values are counted


@dataclass
class Bucket:
    """One group as one part saw it."""

    raw: tuple[Any, ...]  # the group-by values as the engine returned them (for term filters)
    doc_count: int
    distinct: int
    events: list[Event]

    @property
    def complete(self) -> bool:
        """Whether ``events`` holds every event of the group."""
        return len(self.events) >= self.doc_count


@dataclass
class Groups:
    """Every group of the search range: per group key, each part's bucket."""

    parts: dict[Key, dict[int, Bucket]] = field(default_factory=dict)
    truncated: bool = False


def time_range(time_field: str, lo: int, hi: int) -> dict[str, Any]:
    """``[lo, hi)`` in ms on the time field."""
    return {"range": {time_field: {"gte": lo, "lt": hi, "format": "epoch_millis"}}}


def _value(source: dict[str, Any], name: str | None) -> str | None:
    if name is None:
        return None
    values = field_values(source, name)
    if not values:
        return None
    return json.dumps(values[0] if len(values) == 1 else sorted(values, key=str), sort_keys=True, default=str)


def to_event(part: Part, hit: dict[str, Any]) -> Event:
    """An engine hit (sorted by time) as an event of the part."""
    source = hit.get("_source") or {}
    return Event(
        int(hit["sort"][0]),
        hit["_index"],
        hit["_id"],
        frozenset({part.position}),
        _value(source, part.value_field),
    )


def _source(part: Part) -> dict[str, Any] | bool:
    return {"includes": [part.value_field]} if part.value_field else False


def _body(part: Part, time_field: str, lo: int, hi: int, after: dict[str, Any] | None) -> dict[str, Any]:
    query = {"bool": {"filter": [part.query, time_range(time_field, lo, hi)]}}
    events = {
        "top_hits": {"size": EVENTS_PER_BUCKET, "sort": [{time_field: "asc"}], "_source": _source(part)}
    }
    if not part.group_fields:  # one group: the hits themselves
        first = {"size": EVENTS_PER_BUCKET, "sort": [{time_field: "asc"}], "_source": _source(part)}
        return {"query": query, **first, "track_total_hits": True, **_distinct_aggs(part)}
    sources = [{f"g{n}": {"terms": {"field": name}}} for n, name in enumerate(part.group_fields)]
    composite: dict[str, Any] = {"size": GROUPS_PER_PAGE, "sources": sources}
    if after is not None:
        composite["after"] = after
    aggs = {"events": events, **_distinct_aggs(part).get("aggs", {})}
    return {"query": query, "size": 0, "aggs": {"groups": {"composite": composite, "aggs": aggs}}}


def _distinct_aggs(part: Part) -> dict[str, Any]:
    if part.value_field is None:
        return {}
    return {"aggs": {"distinct": {"cardinality": {"field": part.value_field, "precision_threshold": 3000}}}}


def _key(raw: tuple[Any, ...]) -> Key:
    return tuple(json.dumps(v, sort_keys=True, default=str) for v in raw)


def _read(groups: Groups, part: Part, response: dict[str, Any]) -> dict[str, Any] | None:
    """Add one response's buckets to the groups; the composite's next ``after`` (None: done)."""
    if "error" in response:
        reason = str(response["error"].get("reason", response["error"]))[:300]
        raise SearchError(f"rule {part.rule_id}: correlation search failed: {reason}")
    if not part.group_fields:
        hits = response["hits"]["hits"]
        distinct = int(response.get("aggregations", {}).get("distinct", {}).get("value", 0))
        total = int(response["hits"]["total"]["value"])
        if total:
            events = [to_event(part, h) for h in hits]
            groups.parts.setdefault((), {})[part.position] = Bucket((), total, distinct, events)
        return None
    agg = response["aggregations"]["groups"]
    for bucket in agg["buckets"]:
        raw = tuple(bucket["key"][f"g{n}"] for n in range(len(part.group_fields)))
        events = [to_event(part, h) for h in bucket["events"]["hits"]["hits"]]
        distinct = int(bucket.get("distinct", {}).get("value", 0))
        groups.parts.setdefault(_key(raw), {})[part.position] = Bucket(
            raw, int(bucket["doc_count"]), distinct, events
        )
    return agg.get("after_key") if len(agg["buckets"]) >= GROUPS_PER_PAGE else None


async def read_groups(
    client: SearchClient, parts: list[Part], time_field: str, lo: int, hi: int, *, concurrency: int
) -> Groups:
    """Every group of every part in ``[lo, hi)`` (ms), paging the composite aggregations together."""
    groups = Groups()
    pending: dict[int, dict[str, Any] | None] = {part.position: None for part in parts}
    by_position = {part.position: part for part in parts}
    while pending:
        searches: list[dict[str, Any]] = []
        order = list(pending)
        for position in order:
            part = by_position[position]
            searches += [{"index": part.index}, _body(part, time_field, lo, hi, pending[position])]
        try:
            response = await client.es.msearch(searches=searches, max_concurrent_searches=concurrency)
        except ApiError as exc:
            raise search_error(exc, f"searching the groups of {parts[0].rule_id}") from None
        following: dict[int, dict[str, Any] | None] = {}
        for position, result in zip(order, response["responses"], strict=True):
            after = _read(groups, by_position[position], result)
            if after is not None:
                following[position] = after
        pending = following
    return groups


async def complete(
    client: SearchClient, part: Part, bucket: Bucket, time_field: str, lo: int, hi: int, cap: int
) -> bool:
    """Read every event of one group of one part into its bucket, at most ``cap``; False when cut short."""
    filters: list[dict[str, Any]] = [part.query, time_range(time_field, lo, hi)]
    filters += [{"term": {name: value}} for name, value in zip(part.group_fields, bucket.raw, strict=True)]
    query = {"bool": {"filter": filters}}
    events: list[Event] = []
    async with PointInTime(client, part.index) as pit:
        async for page in pit.pages(query, [{time_field: {"order": "asc"}}], min(cap, 1000)):
            events += [to_event(part, hit) for hit in page]
            if len(events) >= cap:
                break
    bucket.events = events[:cap]
    return len(events) < cap or bucket.doc_count <= cap
