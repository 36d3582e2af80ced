"""Searching a sweep step's rule windows and writing their alerts.

The first pages of the rules are fetched by ``_msearch`` (the rules of a group share their indices), in
batches of at most ``BATCH_HITS // page_size`` rules, so the hits held at once are bounded by the page size,
not by the number of rules. A rule whose first page is full is streamed on from its last hit with a point in
time and ``search_after`` (``POST /<index>/_pit`` on Elasticsearch, ``POST /<index>/_search/point_in_time``
on OpenSearch and osmem, DESIGN trap 6), at most ``concurrency`` at once: the stream reads the window from
the first page's last time on, skipping the first page's hits at that very time, so no hit is read twice.
Alerts are written with ``op_type: create``: a 409 is a duplicate, never an error. The alerts of all the
step's rules go into shared bulks (:class:`soar.detect.alert_store.AlertBulk`), so a step writes a few
large requests instead of one or more per rule; results are counted once every bulk is written. Once a
rule has written its ``max_alerts`` new alerts the rest is left for the next run, and the rule's
``reached`` time stops at the last hit it handled: a rule that may reach its cap with alerts still
gathered has them written first, so duplicates never count towards it.

Correlations and the rules whose ``soar:`` attribute makes them threshold, new terms or flatline rules run
beside them in the same step (:mod:`soar.detect.correlate`, :mod:`soar.detect.newterms`,
:mod:`soar.detect.flatline`), each with its own searches, under the same ``concurrency``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from elasticsearch import ApiError

from soar.detect.alert_store import AlertBulk
from soar.detect.alerts import AlertContext, alert_documents, alerts_index
from soar.detect.correlate import correlation_plan, run_correlation, threshold_plan
from soar.detect.flatline import run_flatline
from soar.detect.handover import PromptHandOver, handing_over
from soar.detect.models import (
    DetectCorrelation,
    DetectRule,
    RuleWindow,
    RuleWindowResult,
    SearchWindowInput,
    Window,
)
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


# First-page hits one ``_msearch`` may bring back: bounds what a step holds at once, whatever its rule count.
BATCH_HITS = 5000


class _Sink(Protocol):
    """What a rule window's hits go to, in time order: alerts written, or hits only counted."""

    @property
    def full(self) -> bool: ...

    async def write(self, hits: list[dict[str, Any]]) -> None: ...

    def result(self, exhausted: bool) -> RuleWindowResult: ...


class _RuleWriter:
    """Writes one rule window's alerts, counting created and duplicates, stopping at the cap."""

    def __init__(
        self, client: SearchClient, spec: SearchWindowInput, item: RuleWindow, now: datetime, bulk: AlertBulk
    ) -> None:
        self.client = client
        self.item = item
        self.rule = plain_rule(item)
        self.index = alerts_index(spec.namespace)
        self.bulk = bulk
        self.gathered = 0  # alerts in the shared bulk, not yet written
        self.ctx = AlertContext(
            rule=self.rule, group_id=spec.group_id, run_id=spec.run_id, window=item.window, created=now
        )
        self.hits = self.created = self.duplicates = self.suppressed = 0
        suppress = self.rule.options.suppress
        self.suppressor = Suppressor(client, self.index, self.ctx, suppress) if suppress else None
        self.last: datetime | None = None
        self.left_over = False  # hits seen but not written because the cap was reached

    @property
    def full(self) -> bool:
        return self.created >= self.item.max_alerts

    async def write(self, hits: list[dict[str, Any]]) -> None:
        """Write alerts for hits in time order until the cap is reached."""
        pending = hits
        while pending and not self.full:
            room = self.item.max_alerts - self.created - self.gathered
            if room <= 0:  # the gathered ones may hold duplicates: write them to know the room left
                await self.bulk.flush()
                continue
            batch, pending = pending[:room], pending[room:]
            await self._bulk(batch)
            self.hits += len(batch)
            self.last = _hit_time(batch[-1])
        self.left_over = self.left_over or bool(pending)

    def _written(self, created: int, duplicates: int) -> None:
        self.gathered -= created + duplicates
        self.created += created
        self.duplicates += duplicates

    async def _bulk(self, batch: list[dict[str, Any]]) -> None:
        if self.suppressor is not None:
            counts = await self.suppressor.write(batch)
            self.created += counts.created
            self.duplicates += counts.duplicates
            self.suppressed += counts.suppressed
            return
        self.gathered += len(batch)
        await self.bulk.add(self.rule.rule.rule_id, alert_documents(self.ctx, batch), self._written)

    def result(self, exhausted: bool) -> RuleWindowResult:
        if self.gathered:
            raise RuntimeError(f"rule {self.rule.rule.rule_id}: result asked before its alerts were written")
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


class _HitCounter:
    """Counts a rule window's hits and writes nothing."""

    full = False

    def __init__(self, item: RuleWindow) -> None:
        self.item = item
        self.hits = 0

    async def write(self, hits: list[dict[str, Any]]) -> None:
        self.hits += len(hits)

    def result(self, exhausted: bool) -> RuleWindowResult:
        return RuleWindowResult(
            rule_id=self.item.rule.rule_id,
            hits=self.hits,
            created=0,
            duplicates=0,
            capped=False,
            reached=self.item.window.end,
        )


def _hit_time(hit: dict[str, Any]) -> datetime:
    seconds, millis = divmod(int(hit["sort"][0]), 1000)  # integers: no float rounding of the millisecond
    return datetime.fromtimestamp(seconds, UTC) + timedelta(milliseconds=millis)


async def _first_pages(
    client: SearchClient, spec: SearchWindowInput, items: list[RuleWindow]
) -> list[dict[str, Any]]:
    if not items:
        return []
    searches: list[dict[str, Any]] = []
    for item in items:
        body = {"query": window_query(item), "sort": _sort(item), "size": spec.page_size}
        searches += [{"index": plain_rule(item).rule.index}, body | {"track_total_hits": False}]
    try:
        response = await client.es.msearch(searches=searches, max_concurrent_searches=spec.concurrency)
    except ApiError as exc:
        raise search_error(exc, f"searching rule group {spec.group_id}") from None
    return list(response["responses"])


def _rest(item: RuleWindow, last: dict[str, Any]) -> RuleWindow:
    """The window from the last hit's time on (that time included: its other hits are still to come)."""
    return item.model_copy(update={"window": Window(start=_hit_time(last), end=item.window.end)})


async def _stream(
    client: SearchClient, item: RuleWindow, last: dict[str, Any], ties: set[tuple[str, str]], page_size: int
) -> AsyncIterator[list[dict[str, Any]]]:
    """The hits after a full first page: from its ``last`` hit's time on, less the first page's ``ties``."""
    since = int(last["sort"][0])
    async with PointInTime(client, plain_rule(item).rule.index) as pit:
        async for page in pit.pages(window_query(_rest(item, last)), _sort(item), page_size):
            new = [h for h in page if (h["_index"], h["_id"]) not in ties] if ties else page
            if ties and int(page[-1]["sort"][0]) > since:
                ties = set()  # past the first page's last time: nothing left to skip
            if new:
                yield new


async def _run_rule(
    client: SearchClient, item: RuleWindow, first: dict[str, Any], sink: _Sink, page_size: int
) -> bool:
    """One rule's window from its first page on; whether its hits were exhausted (not stopped at the cap).

    The page is taken out of ``first`` so it is freed once written.
    """
    if "error" in first:
        reason = str(first["error"].get("reason", first["error"]))[:300]
        raise SearchError(f"rule {item.rule.rule_id}: search failed: {reason}")
    hits: list[dict[str, Any]] = first.pop("hits")["hits"]
    await sink.write(hits)
    if len(hits) < page_size or sink.full:
        return len(hits) < page_size
    last = hits[-1]
    ties = {(h["_index"], h["_id"]) for h in hits if h["sort"][0] == last["sort"][0]}
    del hits  # a stream holds one page at a time, not the first one too
    async for page in _stream(client, item, last, ties, page_size):
        await sink.write(page)
        if sink.full:
            return False
    return True


async def _run_plain(
    client: SearchClient,
    spec: SearchWindowInput,
    items: dict[int, RuleWindow],
    sink: Callable[[RuleWindow], _Sink],
    gate: asyncio.Semaphore,
    written: Callable[[], Awaitable[None]] | None = None,
) -> dict[int, RuleWindowResult]:
    """The plain rules' windows, a batch of first pages at a time, each full one streamed under ``gate``.

    ``written`` writes what the sinks gathered; results are taken after it.
    """
    done: dict[int, tuple[_Sink, bool]] = {}
    numbered = list(items.items())
    per_batch = max(1, BATCH_HITS // spec.page_size)
    for start in range(0, len(numbered), per_batch):
        batch = numbered[start : start + per_batch]
        firsts = await _first_pages(client, spec, [item for _, item in batch])

        async def one(n: int, item: RuleWindow, first: dict[str, Any]) -> None:
            async with gate:
                to = sink(item)
                done[n] = to, await _run_rule(client, item, first, to, spec.page_size)

        await asyncio.gather(*(one(n, item, first) for (n, item), first in zip(batch, firsts, strict=True)))
    if written is not None:
        await written()
    return {n: to.result(exhausted) for n, (to, exhausted) in done.items()}


def _is_plain(item: RuleWindow) -> bool:
    return isinstance(item.rule, DetectRule) and item.rule.options.kind == "rule"


async def _run_aggregate(client: SearchClient, spec: SearchWindowInput, item: RuleWindow) -> RuleWindowResult:
    """A correlation's, threshold's, new terms' or flatline rule's window."""
    rule = item.rule
    if isinstance(rule, DetectCorrelation):
        return await run_correlation(client, spec, item, correlation_plan(rule))
    if rule.options.threshold is not None:
        return await run_correlation(client, spec, item, threshold_plan(rule))
    if rule.options.new_terms is not None:
        return await run_new_terms(client, spec, item, rule)
    return await run_flatline(client, spec, item, rule)


async def search_window(
    client: SearchClient, spec: SearchWindowInput, prompt: PromptHandOver | None = None
) -> list[RuleWindowResult]:
    """Search every rule window of a sweep step and write its alerts; alerts are searchable on return.

    With ``prompt``, each bulk of new alerts is handed over to its playbooks as soon as it is written, and
    the hand-overs are recorded in the alerts before they are made searchable.

    Raises:
        SearchError: a search or a write failed (the step is retried as a whole: writes are idempotent).
    """
    plain = {n: item for n, item in enumerate(spec.items) if _is_plain(item)}
    others = {n: item for n, item in enumerate(spec.items) if n not in plain}
    gate = asyncio.Semaphore(spec.concurrency)

    async def aggregate(item: RuleWindow) -> RuleWindowResult:
        async with gate:
            return await _run_aggregate(client, spec, item)

    async def aggregates() -> dict[int, RuleWindowResult]:
        found = await asyncio.gather(*(aggregate(item) for item in others.values()))
        return dict(zip(others, found, strict=True))

    bulk = AlertBulk(client, alerts_index(spec.namespace))

    def writer(item: RuleWindow) -> _Sink:
        # Made when the rule's first page is in: an alert's @timestamp is when it came to be.
        return _RuleWriter(client, spec, item, datetime.now(UTC), bulk)

    try:
        with handing_over(prompt):
            singles, grouped = await asyncio.gather(
                _run_plain(client, spec, plain, writer, gate, bulk.flush), aggregates()
            )
    finally:  # a failed step too: what it started is recorded, not left pending or running on unawaited
        if prompt is not None:
            await prompt.finish()
    results = singles | grouped
    try:
        await client.es.indices.refresh(index=alerts_index(spec.namespace))
    except ApiError as exc:
        raise search_error(exc, "refreshing the alerts index") from None
    return [results[n] for n in range(len(spec.items))]


async def count_hits(client: SearchClient, spec: SearchWindowInput) -> list[RuleWindowResult]:
    """The plain rules' hits in their windows, read exactly as :func:`search_window` reads them; no alert written.

    Raises:
        SearchError: a search failed.
    """
    plain = {n: item for n, item in enumerate(spec.items) if _is_plain(item)}
    found = await _run_plain(client, spec, plain, _HitCounter, asyncio.Semaphore(spec.concurrency))
    return [found[n] for n in sorted(found)]
