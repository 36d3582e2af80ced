"""Alert suppression: one alert per group-by value tuple and time bucket, later hits counted on it.

A rule's ``soar:`` attribute may say::

    soar:
      suppress: {by: [user.name, source.ip], for: 1h, missing: suppress}

The first hit of a tuple opens a bucket ``[start, start + for)`` on the rule's time field and becomes its
alert, with id ``sha256(rule id, tuple key, start)``, written with ``op_type: create``. Later hits of the
tuple inside the bucket create nothing; they are counted on that alert as
``soar.alert.suppression.{terms, docs_count, start, end}`` (after Kibana's ``kibana.alert.suppression.*``;
``docs_count`` excludes the alert's own event, as Kibana's does). The state lives in the alerts index only:

- buckets are found by searching the rule's alerts for the tuple key, so any worker finds them;
- ``docs_count`` is not incremented but recounted: the source events of the rule (exceptions applied)
  with the tuple in ``[start, end]``, so re-running a window recounts the same number;
- the count and ``end`` only grow, written with optimistic concurrency (``if_seq_no``), re-read on conflict.

A late event before a bucket's start opens a bucket that ends where the next one starts, so buckets of a
tuple never overlap and no event is counted twice. Missing ``by`` fields: ``missing: suppress`` (the
default, as in Kibana) groups them under a null value; ``missing: alert`` gives each such hit its own alert.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError

from soar.detect.alert_store import create_alerts
from soar.detect.alerts import AlertContext, alert_document
from soar.detect.risk import field_values
from soar.detect.settings import Suppression
from soar.engines.search import SearchClient, search_error
from soar.errors import SearchError
from soar.telemetry.ecs import format_timestamp

_PREFIX = "soar.alert.suppression"
_RETRIES = 5


def suppression_key(rule_id: str, values: list[Any]) -> str:
    """The key of a rule's group-by value tuple (the same values, the same key)."""
    text = json.dumps([rule_id, values], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def suppressed_alert_id(rule_id: str, key: str, start: datetime) -> str:
    """The id of the alert of a tuple's bucket that starts at ``start``."""
    text = f"{rule_id}\x00{key}\x00{format_timestamp(start)}"
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def tuple_values(source: dict[str, Any], by: list[str]) -> list[Any]:
    """The group-by values of an event: a value, a sorted list (a multi-valued field), or None (missing)."""
    out: list[Any] = []
    for name in by:
        values = field_values(source, name)
        out.append(None if not values else values[0] if len(values) == 1 else sorted(values, key=str))
    return out


@dataclass
class Bucket:
    """One tuple's bucket: its alert id, time span, the alert's own event and the stored count."""

    id: str
    key: str
    terms: list[dict[str, Any]]
    start: datetime
    until: datetime
    end: datetime
    source: tuple[str, str]
    docs_count: int = 0
    new: dict[str, Any] | None = None  # the alert document while it is still to be created
    dirty: bool = False


@dataclass
class Counts:
    """What one batch of hits did."""

    created: int = 0
    duplicates: int = 0
    suppressed: int = 0


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _hit_time(hit: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(hit["sort"][0]) / 1000, UTC)


def _from_alert(doc: dict[str, Any]) -> Bucket:
    alert = doc["_source"]["soar"]["alert"]
    sup = alert["suppression"]
    return Bucket(
        id=doc["_id"],
        key=sup["key"],
        terms=sup["terms"],
        start=_time(sup["start"]),
        until=_time(sup["until"]),
        end=_time(sup["end"]),
        source=(alert["source"]["index"], alert["source"]["id"]),
        docs_count=int(sup.get("docs_count") or 0),
    )


def _term(term: dict[str, Any]) -> list[dict[str, Any]]:
    name, value = term["field"], term["value"]
    if value is None:
        return [{"bool": {"must_not": [{"exists": {"field": name}}]}}]
    values = value if isinstance(value, list) else [value]
    return [{"term": {name: v}} for v in values]


class Suppressor:
    """Writes one rule window's hits under suppression, bucket state read from and kept in the alerts index.

    Args:
        client: The search engine.
        index: The alerts index.
        ctx: What the window's alerts share (the rule, with its options and exceptions).
        spec: The rule's suppression.
    """

    def __init__(self, client: SearchClient, index: str, ctx: AlertContext, spec: Suppression) -> None:
        self.client = client
        self.index = index
        self.ctx = ctx
        self.spec = spec
        self.rule_id = ctx.rule.rule.rule_id
        self.buckets: dict[str, list[Bucket]] = {}  # by tuple key, ordered by start

    async def write(self, hits: list[dict[str, Any]]) -> Counts:
        """Alert, suppress or skip each hit (in time order), then write new alerts and grown counts."""
        counts = Counts()
        plain: list[dict[str, Any]] = []
        keyed: list[tuple[dict[str, Any], str, list[Any]]] = []
        for hit in hits:
            values = tuple_values(hit.get("_source") or {}, self.spec.by)
            if None in values and self.spec.missing == "alert":
                plain.append(hit)
            else:
                keyed.append((hit, suppression_key(self.rule_id, values), values))
        if keyed:
            await self._load({k for _, k, _ in keyed}, min(_hit_time(h) for h, _, _ in keyed))
        for hit, key, values in keyed:
            self._place(hit, key, values, counts)
        dirty = [b for buckets in self.buckets.values() for b in buckets if b.dirty]
        await self._recount(dirty)
        await self._create([b for b in dirty if b.new is not None], plain, counts)
        await self._update([b for b in dirty if b.dirty])
        return counts

    def _place(self, hit: dict[str, Any], key: str, values: list[Any], counts: Counts) -> None:
        at = _hit_time(hit)
        buckets = self.buckets.setdefault(key, [])
        bucket = next((b for b in buckets if b.start <= at < b.until), None)
        if bucket is None:
            later = [b.start for b in buckets if b.start > at]
            until = min([at + self.spec.for_, *later])
            terms = [{"field": f, "value": v} for f, v in zip(self.spec.by, values, strict=True)]
            uid = suppressed_alert_id(self.rule_id, key, at)
            bucket = Bucket(uid, key, terms, at, until, at, (hit["_index"], hit["_id"]), dirty=True)
            _, bucket.new = alert_document(self.ctx, hit, uid=uid)
            buckets.append(bucket)
            buckets.sort(key=lambda b: b.start)
        elif (hit["_index"], hit["_id"]) == bucket.source:
            counts.duplicates += 1  # the bucket's own event, seen again (a re-run)
        else:
            counts.suppressed += 1
            bucket.end = max(bucket.end, at)
            bucket.dirty = True

    async def _load(self, keys: set[str], since: datetime) -> None:
        """Read the buckets of tuples not seen yet in this window that reach past ``since``."""
        wanted = sorted(keys - set(self.buckets))
        if not wanted:
            return
        query = {
            "bool": {
                "filter": [
                    {"term": {"soar.alert.rule.uuid": self.rule_id}},
                    {"terms": {f"{_PREFIX}.key": wanted}},
                    {"range": {f"{_PREFIX}.until": {"gt": format_timestamp(since)}}},
                ]
            }
        }
        try:
            response = await self.client.es.search(
                index=self.index, query=query, size=10_000, sort=[{f"{_PREFIX}.start": "asc"}]
            )
        except ApiError as exc:
            raise search_error(exc, f"reading suppressed alerts of rule {self.rule_id}") from None
        for key in wanted:
            self.buckets[key] = []
        for doc in response["hits"]["hits"]:
            bucket = _from_alert(doc)
            self.buckets.setdefault(bucket.key, []).append(bucket)

    def _count_query(self, bucket: Bucket) -> dict[str, Any]:
        rule = self.ctx.rule
        time_range = {
            "gte": format_timestamp(bucket.start),
            "lte": format_timestamp(bucket.end),
            "format": "strict_date_optional_time",
        }
        filters = [rule.rule.query, {"range": {rule.options.time_field: time_range}}]
        filters += [clause for term in bucket.terms for clause in _term(term)]
        query: dict[str, Any] = {"bool": {"filter": filters}}
        if rule.exceptions is not None:
            query["bool"]["must_not"] = rule.exceptions.must_not
        return query

    async def _recount(self, buckets: list[Bucket]) -> None:
        """Count each bucket's events again; a count never shrinks (an older re-run sees less)."""
        if not buckets:
            return
        searches: list[dict[str, Any]] = []
        for bucket in buckets:
            body = {"size": 0, "track_total_hits": True, "query": self._count_query(bucket)}
            searches += [{"index": self.ctx.rule.rule.index}, body]
        try:
            response = await self.client.es.msearch(searches=searches)
        except ApiError as exc:
            raise search_error(exc, f"counting suppressed events of rule {self.rule_id}") from None
        for bucket, answer in zip(buckets, response["responses"], strict=True):
            if "error" in answer:
                raise SearchError(f"rule {self.rule_id}: counting suppressed events failed")
            total = int(answer["hits"]["total"]["value"])
            bucket.docs_count = max(bucket.docs_count, total - 1)

    def _fields(self, bucket: Bucket) -> dict[str, Any]:
        return {
            "terms": bucket.terms,
            "key": bucket.key,
            "start": format_timestamp(bucket.start),
            "end": format_timestamp(bucket.end),
            "until": format_timestamp(bucket.until),
            "docs_count": bucket.docs_count,
        }

    async def _create(self, new: list[Bucket], plain: list[dict[str, Any]], counts: Counts) -> None:
        writes: list[tuple[Bucket | None, str, dict[str, Any]]] = []
        for bucket in new:
            if bucket.new is not None:
                bucket.new["soar"]["alert"]["suppression"] = self._fields(bucket)
                writes.append((bucket, bucket.id, bucket.new))
        writes += [(None, *alert_document(self.ctx, hit)) for hit in plain]
        if not writes:
            return
        created = await create_alerts(
            self.client, self.index, self.rule_id, [(uid, doc) for _, uid, doc in writes]
        )
        for (owner, _, _), now in zip(writes, created, strict=True):
            if now:
                counts.created += 1
            else:
                counts.duplicates += 1  # written before (a re-run, another worker): its count is updated
            if owner is not None:
                owner.new = None
                owner.dirty = not now

    async def _update(self, buckets: list[Bucket]) -> None:
        """Grow stored counts and ends with optimistic concurrency; a conflict re-reads and tries again."""
        for _ in range(_RETRIES):
            if not buckets:
                return
            buckets = await self._update_once(buckets)
        raise SearchError(f"rule {self.rule_id}: suppressed alert counts kept conflicting; retried")

    async def _update_once(self, buckets: list[Bucket]) -> list[Bucket]:
        try:
            current = await self.client.es.mget(index=self.index, ids=[b.id for b in buckets])
        except ApiError as exc:
            raise search_error(exc, f"reading suppressed alerts of rule {self.rule_id}") from None
        operations: list[dict[str, Any]] = []
        pending: list[Bucket] = []
        for bucket, doc in zip(buckets, current["docs"], strict=True):
            if not doc.get("found"):
                continue  # deleted meanwhile: nothing to count on
            stored = _from_alert(doc)
            bucket.docs_count = max(bucket.docs_count, stored.docs_count)
            bucket.end = max(bucket.end, stored.end)
            if (bucket.docs_count, bucket.end) == (stored.docs_count, stored.end):
                bucket.dirty = False
                continue
            meta = {"_index": self.index, "_id": bucket.id}
            meta |= {"if_seq_no": doc["_seq_no"], "if_primary_term": doc["_primary_term"]}
            fields = {"docs_count": bucket.docs_count, "end": format_timestamp(bucket.end)}
            operations += [{"update": meta}, {"doc": {"soar": {"alert": {"suppression": fields}}}}]
            pending.append(bucket)
        if not operations:
            return []
        try:
            response = await self.client.es.bulk(operations=operations)
        except ApiError as exc:
            raise search_error(exc, f"counting on suppressed alerts of rule {self.rule_id}") from None
        retry = []
        for bucket, entry in zip(pending, response["items"], strict=True):
            status = entry["update"].get("status", 500)
            if status == 409:
                retry.append(bucket)
            elif status >= 300:
                reason = str(entry["update"].get("error"))[:300]
                raise SearchError(f"counting on suppressed alert of rule {self.rule_id}: {reason}")
            else:
                bucket.dirty = False
        return retry
