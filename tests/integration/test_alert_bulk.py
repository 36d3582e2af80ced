"""Alerts of many rules gathered into shared create-only bulks, on the embedded engine."""

from __future__ import annotations

from typing import Any

import pytest

from soar.detect.alert_store import AlertBulk
from soar.detect.alerts import alerts_index
from soar.detect.checkpoints import ensure_indices
from soar.engines.search import SearchClient
from soar.errors import SearchError

pytestmark = pytest.mark.engines


class Counts:
    def __init__(self) -> None:
        self.created = self.existed = 0

    def __call__(self, created: int, existed: int) -> None:
        self.created += created
        self.existed += existed


def _alerts(prefix: str, n: int) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{prefix}-{i}", {"@timestamp": "2026-11-23T10:00:00.000Z", "n": i}) for i in range(n)]


def counting_bulks(search: SearchClient, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every bulk request sent through ``search`` from now on (each is still sent)."""
    sizes: list[int] = []
    send = search.es.bulk

    async def bulk(**kwargs: Any) -> Any:
        sizes.append(len(kwargs["operations"]) // 2)
        return await send(**kwargs)

    monkeypatch.setattr(search.es, "bulk", bulk)
    return sizes


async def test_alerts_of_several_rules_share_one_bulk_and_each_learns_its_counts(
    search: SearchClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_indices(search, "bulk")
    index = alerts_index("bulk")
    sizes = counting_bulks(search, monkeypatch)
    first, second = Counts(), Counts()
    bulk = AlertBulk(search, index)
    await bulk.add("rule-a", _alerts("a", 3), first)
    await bulk.add("rule-b", _alerts("b", 4), second)
    assert sizes == []  # gathered, not written yet
    await bulk.flush()
    assert sizes == [7]
    assert (first.created, first.existed, second.created, second.existed) == (3, 0, 4, 0)

    again = Counts()
    await bulk.add("rule-a", _alerts("a", 5), again)  # three exist already
    await bulk.flush()
    await bulk.flush()  # nothing gathered: no request
    assert sizes == [7, 5]
    assert (again.created, again.existed) == (2, 3)
    await search.es.indices.refresh(index=index)
    assert (await search.es.count(index=index))["count"] == 9


async def test_a_full_bulk_is_written_as_alerts_are_added(
    search: SearchClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_indices(search, "bulk")
    sizes = counting_bulks(search, monkeypatch)
    counts = Counts()
    bulk = AlertBulk(search, alerts_index("bulk"), max_docs=4)
    for start in range(0, 10, 2):
        await bulk.add("rule-a", _alerts("x", 10)[start : start + 2], counts)
    await bulk.flush()
    assert sizes == [4, 4, 2]
    assert counts.created == 10
    small = AlertBulk(search, alerts_index("bulk"), max_bytes=1)  # every add is over the bound
    await small.add("rule-b", _alerts("y", 3), counts)
    assert sizes[-1] == 3


async def test_a_document_json_allows_but_orjson_refuses_is_written(search: SearchClient) -> None:
    await ensure_indices(search, "bulk")
    counts = Counts()
    bulk = AlertBulk(search, alerts_index("bulk"))
    await bulk.add("rule-a", [("big", {"@timestamp": "2026-11-23T10:00:00.000Z", "n": 2**70})], counts)
    await bulk.flush()
    assert counts.created == 1
    stored = await search.es.get(index=alerts_index("bulk"), id="big")
    assert stored["_source"]["n"] == 2**70


async def test_a_refused_alert_names_its_rule(search: SearchClient) -> None:
    await ensure_indices(search, "bulk")
    bulk = AlertBulk(search, alerts_index("bulk"))
    await bulk.add("rule-a", _alerts("ok", 1), Counts())
    await bulk.add("rule-bad", [("", {"n": 1})], Counts())  # an empty _id is refused
    with pytest.raises(SearchError, match="rule-bad"):
        await bulk.flush()
