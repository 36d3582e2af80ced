"""The two sides of the detection bench: soar's cycle of a rule set over one window, and one search per rule.

soar: :func:`soar.detect.execute.search_window`, the body of the sweep's ``detect.search_window`` activity,
called once per rule group with the groups at once (a worker runs the groups' sweeps side by side). It
searches (``_msearch`` of first pages, point in time + ``search_after`` for the rest, ``concurrency``
searches at once), builds the alerts, writes them (``op_type: create``, in bulks the group's rules share)
and refreshes the alerts index.
Not included: compiling the rules and reading checkpoints (``detect.load_group``), saving checkpoints and
the hand-over (other activities), Temporal's own scheduling of the activities.

Baseline (a naive engine, ElastAlert's way): the rules one after the other, one ``_search`` per rule with
``size`` 10,000 (ElastAlert's ``max_query_size``), sorted by time, and, when writing, soar's own alert
documents written with soar's own create-only bulk after each rule's search, in bulks of soar's page size
(kinder than ElastAlert, which writes one request per alert), then the same refresh.

Both sides run a ``search only`` variant too, in which no alert is built or written: soar's half is the same
searches ``search_window`` sends (:func:`soar.detect.execute.count_hits`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from soar.detect.alert_store import create_alerts
from soar.detect.alerts import AlertContext, alert_documents, alerts_index
from soar.detect.execute import count_hits, plain_rule, search_window, window_query
from soar.detect.models import RuleWindow, SearchWindowInput
from soar.detect.settings import DetectSettings
from soar.engines.search import SearchClient

DEFAULTS = DetectSettings()
NAIVE_SIZE = 10_000  # ElastAlert's max_query_size
SMALL_PAGE = 100  # the memory run's second page size for soar: a tenth of its hits is 500 a rule


def specs(
    groups: dict[str, list[RuleWindow]], namespace: str, run_id: str, page_size: int = DEFAULTS.page_size
) -> list[SearchWindowInput]:
    """One ``search_window`` input per rule group, with soar's default concurrency (and page size)."""
    return [
        SearchWindowInput(
            group_id=group,
            run_id=run_id,
            namespace=namespace,
            items=items,
            page_size=page_size,
            concurrency=DEFAULTS.concurrency,
        )
        for group, items in groups.items()
    ]


async def soar_cycle(
    search: SearchClient,
    groups: dict[str, list[RuleWindow]],
    namespace: str,
    *,
    write: bool,
    page_size: int = DEFAULTS.page_size,
) -> dict[str, int]:
    """soar's cycle over every group at once; hits per rule id (alerts created, when writing)."""
    inputs = specs(groups, namespace, f"bench-{namespace}", page_size)
    if write:
        done = await asyncio.gather(*(search_window(search, spec) for spec in inputs))
        return {r.rule_id: r.created for results in done for r in results}

    counted = await asyncio.gather(*(count_hits(search, spec) for spec in inputs))
    return {r.rule_id: r.hits for results in counted for r in results}


async def naive_rule(
    search: SearchClient, item: RuleWindow, namespace: str, *, write: bool
) -> list[list[Any]]:
    """One rule's ``_search`` (and its alerts written); its hits' sort values."""
    rule = plain_rule(item)
    response = await search.es.search(
        index=rule.rule.index,
        query=window_query(item),
        sort=[{rule.options.time_field: {"order": "asc"}}],
        size=NAIVE_SIZE,
        track_total_hits=False,
    )
    hits: list[dict[str, Any]] = response["hits"]["hits"]
    if len(hits) >= NAIVE_SIZE:
        raise ValueError(f"rule {rule.rule_id} has {NAIVE_SIZE:,} hits or more: one search cannot fetch them")
    if write and hits:
        ctx = AlertContext(
            rule=rule, group_id=rule.rule.source.value, run_id=f"naive-{namespace}", window=item.window,
            created=datetime.now(UTC),
        )  # fmt: skip
        for start in range(0, len(hits), DEFAULTS.page_size):  # the bulk sizes soar writes: the same writes
            documents = alert_documents(ctx, hits[start : start + DEFAULTS.page_size])
            await create_alerts(search, alerts_index(namespace), rule.rule.rule_id, documents)
    return [hit["sort"] for hit in hits]


async def naive_cycle(
    search: SearchClient, groups: dict[str, list[RuleWindow]], namespace: str, *, write: bool
) -> dict[str, list[Any]]:
    """Every rule one after the other; each rule's hits' first sort values (their times)."""
    found: dict[str, list[Any]] = {}
    for items in groups.values():
        for item in items:
            found[item.rule.rule_id] = [s[0] for s in await naive_rule(search, item, namespace, write=write)]
    if write:
        await search.es.indices.refresh(index=alerts_index(namespace))
    return found
