"""Searching a sweep step's rule windows and writing their alerts.

The first page of every rule is fetched in one ``_msearch`` (the rules of a group share their indices);
a rule whose first page is full is streamed to the end with a point in time and ``search_after``
(``POST /<index>/_pit`` on Elasticsearch, ``POST /<index>/_search/point_in_time`` on OpenSearch and osmem,
DESIGN trap 6), at most ``concurrency`` at once. Alerts are written with ``op_type: create``: a 409 is a
duplicate, never an error. Once a rule has written its ``max_alerts`` new alerts the rest is left for the
next run, and the rule's ``reached`` time stops at the last hit it handled.

Correlations and the rules whose ``soar:`` attribute makes them threshold, new terms or flatline rules run
beside them in the same step (:mod:`soar.detect.correlate`, :mod:`soar.detect.newterms`,
:mod:`soar.detect.flatline`), each with its own searches, under the same ``concurrency``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError

from soar.detect.alert_store import create_alerts
from soar.detect.alerts import AlertContext, alert_document, alerts_index
from soar.detect.correlate import correlation_plan, run_correlation, threshold_plan
from soar.detect.flatline import run_flatline
from soar.detect.models import DetectCorrelation, DetectRule, RuleWindow, RuleWindowResult, SearchWindowInput
from soar.detect.newterms import run_new_terms
from soar.detect.pit import PointInTime
from soar.detect.suppression import Suppressor
from soar.engines.search import SearchClient, search_error
from soar.errors import SearchError
from soar.telemetry.ecs import format_timestamp


def plain_rule(item: RuleWindow) -> DetectRule:
    """The item's rule when it alerts once per hit (not a correlation, threshold, new terms or flatline rule).

    Raises:
        TypeError: the item is not such a rule.
    """
    if isinstance(item.rule, DetectRule) and item.rule.options.kind == "rule":
        return item.rule
    raise TypeError(f"rule {item.rule.rule_id} does not alert once per hit")


def window_query(item: RuleWindow) -> dict[str, Any]:
    """The rule's query restricted to its window on its time field."""
    rule = plain_rule(item)
    time_range = {
        "gte": format_timestamp(item.window.start),
        "lt": format_timestamp(item.window.end),
        "format": "strict_date_optional_time",
    }
    in_window = {"range": {rule.options.time_field: time_range}}
    query: dict[str, Any] = {"bool": {"filter": [rule.rule.query, in_window]}}
    if rule.exceptions is not None:  # excepted events are never fetched (soar.detect.exceptions)
        query["bool"]["must_not"] = rule.exceptions.must_not
    return query


def _sort(item: RuleWindow) -> list[dict[str, Any]]:
    return [{item.rule.options.time_field: {"order": "asc"}}]


class _RuleWriter:
    """Writes one rule window's alerts, counting created and duplicates, stopping at the cap."""

    def __init__(
        self, client: SearchClient, spec: SearchWindowInput, item: RuleWindow, now: datetime
    ) -> None:
        self.client = client
        self.item = item
        self.rule = plain_rule(item)
        self.index = alerts_index(spec.namespace)
        self.ctx = AlertContext(
            rule=self.rule, group_id=spec.group_id, run_id=spec.run_id, window=item.window, created=now
        )
        self.hits = self.created = self.duplicates = self.suppressed = 0
        suppress = self.rule.options.suppress
        self.suppressor = Suppressor(client, self.index, self.ctx, suppress) if suppress else None
        self.last: datetime | None = None
        self.seen: set[tuple[str, str]] = set()
        self.left_over = False  # hits seen but not written because the cap was reached

    @property
    def full(self) -> bool:
        return self.created >= self.item.max_alerts

    async def write(self, hits: list[dict[str, Any]]) -> None:
        """Write alerts for hits in time order until the cap is reached."""
        pending = [h for h in hits if (h["_index"], h["_id"]) not in self.seen]
        while pending and not self.full:
            room = self.item.max_alerts - self.created
            batch, pending = pending[:room], pending[room:]
            await self._bulk(batch)
            self.seen.update((hit["_index"], hit["_id"]) for hit in batch)
            self.hits += len(batch)
            self.last = _hit_time(batch[-1])
        self.left_over = self.left_over or bool(pending)

    async def _bulk(self, batch: list[dict[str, Any]]) -> None:
        if self.suppressor is not None:
            counts = await self.suppressor.write(batch)
            self.created += counts.created
            self.duplicates += counts.duplicates
            self.suppressed += counts.suppressed
            return
        documents = [alert_document(self.ctx, hit) for hit in batch]
        created = await create_alerts(self.client, self.index, self.rule.rule.rule_id, documents)
        self.created += sum(created)
        self.duplicates += len(created) - sum(created)

    def result(self, exhausted: bool) -> RuleWindowResult:
        capped = self.left_over or (self.full and not exhausted)
        reached = self.last if capped and self.last is not None else self.item.window.end
        return RuleWindowResult(
            rule_id=self.rule.rule.rule_id,
            hits=self.hits,
            created=self.created,
            duplicates=self.duplicates,
            suppressed=self.suppressed,
            capped=capped,
            reached=reached,
        )


def _hit_time(hit: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(hit["sort"][0]) / 1000, UTC)


async def _first_pages(
    client: SearchClient, spec: SearchWindowInput, items: list[RuleWindow]
) -> list[dict[str, Any]]:
    if not items:
        return []
    searches: list[dict[str, Any]] = []
    for item in items:
        body = {"query": window_query(item), "sort": _sort(item), "size": spec.page_size}
        searches += [{"index": plain_rule(item).rule.index}, body]
    try:
        response = await client.es.msearch(searches=searches, max_concurrent_searches=spec.concurrency)
    except ApiError as exc:
        raise search_error(exc, f"searching rule group {spec.group_id}") from None
    return list(response["responses"])


async def _stream(
    client: SearchClient, item: RuleWindow, page_size: int
) -> AsyncIterator[list[dict[str, Any]]]:
    async with PointInTime(client, plain_rule(item).rule.index) as pit:
        async for page in pit.pages(window_query(item), _sort(item), page_size):
            yield page


async def _run_rule(
    client: SearchClient, spec: SearchWindowInput, item: RuleWindow, first: dict[str, Any], now: datetime
) -> RuleWindowResult:
    if "error" in first:
        reason = str(first["error"].get("reason", first["error"]))[:300]
        raise SearchError(f"rule {item.rule.rule_id}: search failed: {reason}")
    writer = _RuleWriter(client, spec, item, now)
    hits = first["hits"]["hits"]
    await writer.write(hits)
    exhausted = len(hits) < spec.page_size
    if not exhausted and not writer.full:
        exhausted = True
        async for page in _stream(client, item, spec.page_size):
            await writer.write(page)
            if writer.full:
                exhausted = False
                break
    return writer.result(exhausted)


def _is_plain(item: RuleWindow) -> bool:
    return isinstance(item.rule, DetectRule) and item.rule.options.kind == "rule"


async def _run_aggregate(
    client: SearchClient, spec: SearchWindowInput, item: RuleWindow, now: datetime
) -> RuleWindowResult:
    """A correlation's, threshold's, new terms' or flatline rule's window."""
    rule = item.rule
    if isinstance(rule, DetectCorrelation):
        return await run_correlation(client, spec, item, correlation_plan(rule), now)
    if rule.options.threshold is not None:
        return await run_correlation(client, spec, item, threshold_plan(rule), now)
    if rule.options.new_terms is not None:
        return await run_new_terms(client, spec, item, rule, now)
    return await run_flatline(client, spec, item, rule, now)


async def search_window(
    client: SearchClient, spec: SearchWindowInput, now: datetime
) -> list[RuleWindowResult]:
    """Search every rule window of a sweep step and write its alerts; alerts are searchable on return.

    Raises:
        SearchError: a search or a write failed (the step is retried as a whole: writes are idempotent).
    """
    plain = {n: item for n, item in enumerate(spec.items) if _is_plain(item)}
    firsts = dict(zip(plain, await _first_pages(client, spec, list(plain.values())), strict=True))
    gate = asyncio.Semaphore(spec.concurrency)

    async def one(n: int, item: RuleWindow) -> RuleWindowResult:
        async with gate:
            if n in firsts:
                return await _run_rule(client, spec, item, firsts[n], now)
            return await _run_aggregate(client, spec, item, now)

    results = await asyncio.gather(*(one(n, item) for n, item in enumerate(spec.items)))
    try:
        await client.es.indices.refresh(index=alerts_index(spec.namespace))
    except ApiError as exc:
        raise search_error(exc, "refreshing the alerts index") from None
    return list(results)
