"""Paging of plain rules on the embedded engine: batches of first pages, streams that read no hit twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soar.detect import execute
from soar.detect.alerts import alerts_index
from soar.detect.checkpoints import ensure_indices
from soar.detect.execute import count_hits, search_window
from soar.detect.models import RuleWindow, SearchWindowInput, Window
from soar.detect.ruleset import detect_rules
from soar.detect.settings import RuleOptions
from soar.engines.search import SearchClient
from soar.rules.compile import compile_rules
from soar.telemetry.ecs import format_timestamp
from soar.telemetry.ingest import install_templates
from soar.telemetry.sources import SOURCES, Source
from tests.integration.test_alert_bulk import counting_bulks

pytestmark = pytest.mark.engines

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
RULE = """\
title: Paging test {n}
id: 7d1f0a52-3c4b-4f7e-9a10-00000000000{n}
status: test
description: sign-ins of user{n}
author: soar tests
date: '2026-11-23'
logsource:
  product: okta
  service: okta
detection:
  selection:
    user.name: user{n}
  condition: selection
level: medium
"""


async def _events(search: SearchClient, counts: dict[int, int]) -> None:
    """``counts[n]`` events of user n, three to a millisecond, so pages end inside runs of equal times."""
    await install_templates(search)
    operations: list[dict[str, Any]] = []
    for n, count in counts.items():
        for i in range(count):
            at = T0 + timedelta(milliseconds=i // 3)
            doc = {"@timestamp": format_timestamp(at), "event": {"action": "x"}, "user": {"name": f"user{n}"}}
            operations += [
                {"create": {"_index": SOURCES[Source.OKTA].index("default"), "_id": f"{n}-{i}"}},
                doc,
            ]
    response = await search.es.bulk(operations=operations, refresh=True)
    assert not response["errors"]


def _spec(
    tmp_path: Path, counts: dict[int, int], page_size: int, max_alerts: int = 5000
) -> SearchWindowInput:
    for n in counts:
        (tmp_path / f"r{n}.yml").write_text(RULE.format(n=n), "utf-8")
    rules = detect_rules(compile_rules([tmp_path]).rules, RuleOptions())
    window = Window(start=T0, end=T0 + timedelta(hours=1))
    items = [RuleWindow(rule=r, window=window, max_alerts=max_alerts) for r in rules]
    return SearchWindowInput(
        group_id="okta", run_id="run", namespace="default", items=items, page_size=page_size, concurrency=2
    )


async def _alerted(search: SearchClient) -> dict[str, int]:
    await search.es.indices.refresh(index=alerts_index("default"))
    response = await search.es.search(
        index=alerts_index("default"), size=1000, source_includes=["soar.alert.source"]
    )
    ids = [h["_source"]["soar"]["alert"]["source"]["id"] for h in response["hits"]["hits"]]
    return {i: ids.count(i) for i in ids}


async def test_streams_read_every_hit_once_across_equal_times(search: SearchClient, tmp_path: Path) -> None:
    counts = {1: 2, 2: 4, 3: 17, 4: 9}  # page size 4: a short page, an exactly full one, streamed ones
    await _events(search, counts)
    await ensure_indices(search, "default")
    spec = _spec(tmp_path, counts, page_size=4)
    results = await search_window(search, spec)
    assert [(r.rule_id[-1], r.hits, r.created, r.duplicates, r.capped) for r in results] == [
        (str(n), count, count, 0, False) for n, count in counts.items()
    ]
    alerted = await _alerted(search)
    assert len(alerted) == sum(counts.values())
    assert set(alerted.values()) == {1}
    assert [r.hits for r in await count_hits(search, spec)] == [r.hits for r in results]
    again = await search_window(search, spec)
    assert [(r.created, r.duplicates) for r in again] == [(0, c) for c in counts.values()]


async def test_first_pages_in_batches_keep_each_rule_its_result(search: SearchClient, tmp_path: Path) -> None:
    counts = {1: 3, 2: 0, 3: 5, 4: 1, 5: 2}
    await _events(search, counts)
    await ensure_indices(search, "default")
    spec = _spec(tmp_path, counts, page_size=execute.BATCH_HITS // 2)  # two rules per _msearch: three batches
    results = await search_window(search, spec)
    assert [(r.rule_id[-1], r.created) for r in results] == [(str(n), c) for n, c in counts.items()]


async def test_cap_inside_a_stream_stops_at_the_last_hit_written(
    search: SearchClient, tmp_path: Path
) -> None:
    await _events(search, {1: 17})
    await ensure_indices(search, "default")
    [result] = await search_window(search, _spec(tmp_path, {1: 17}, page_size=4, max_alerts=10))
    assert (result.hits, result.created, result.capped) == (10, 10, True)
    assert result.reached == T0 + timedelta(milliseconds=9 // 3)  # the 10th event's time


async def test_duplicates_gathered_for_a_bulk_never_count_towards_the_cap(
    search: SearchClient, tmp_path: Path
) -> None:
    await _events(search, {1: 17})
    await ensure_indices(search, "default")
    [first] = await search_window(search, _spec(tmp_path, {1: 17}, page_size=4, max_alerts=5))
    assert (first.created, first.capped) == (5, True)
    # Again from the window's start: the first five hits exist already, ten new alerts may be written.
    [again] = await search_window(search, _spec(tmp_path, {1: 17}, page_size=4, max_alerts=10))
    assert (again.hits, again.created, again.duplicates, again.capped) == (15, 10, 5, True)
    assert again.reached == T0 + timedelta(milliseconds=14 // 3)  # the 15th event's time
    assert len(await _alerted(search)) == 15


async def test_a_step_writes_the_alerts_of_its_rules_in_shared_bulks(
    search: SearchClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = {1: 3, 2: 5, 3: 2, 4: 6}
    await _events(search, counts)
    await ensure_indices(search, "default")
    sizes = counting_bulks(search, monkeypatch)
    results = await search_window(search, _spec(tmp_path, counts, page_size=4))
    assert [r.created for r in results] == list(counts.values())
    assert sizes == [16]  # one request for the four rules, the streamed pages included
    assert set((await _alerted(search)).values()) == {1}
