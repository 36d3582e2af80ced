"""The search client's connection pool is sized by the settings, not by elastic-transport's default of 10."""

from __future__ import annotations

import pytest

from soar.config import SearchFlavour, SearchSettings, Settings
from soar.engines.search import connect_search


async def test_connections_per_node_sizes_the_pool() -> None:
    settings = SearchSettings(
        urls=["http://127.0.0.1:9"], flavour=SearchFlavour.OPENSEARCH, connections_per_node=7
    )
    async with await connect_search(settings) as client:  # nothing is sent until a request
        [node] = client.es.transport.node_pool.all()
        assert node.config.connections_per_node == 7


def test_pool_and_worker_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOAR_SEARCH__CONNECTIONS_PER_NODE", "3")
    monkeypatch.setenv("SOAR_TEMPORAL__MAX_CONCURRENT_WORKFLOW_TASKS", "4")
    monkeypatch.setenv("SOAR_TEMPORAL__MAX_CONCURRENT_ACTIVITIES", "5")
    settings = Settings()
    assert settings.search.connections_per_node == 3
    assert (settings.temporal.max_concurrent_workflow_tasks, settings.temporal.max_concurrent_activities) == (
        4,
        5,
    )
