"""Real engines for integration tests: one osmem server per session, a fresh clone per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from osmem_server import OsmemServer

from soar.config import Settings, load_settings
from soar.engines.search import SearchClient, connect_search


@pytest.fixture(scope="session")
def osmem() -> Iterator[OsmemServer]:
    """The embedded search engine, started once for the test session (dies with the test process)."""
    server = OsmemServer.start(japanese=False)
    try:
        yield server
    finally:
        server.close()
        # osmem's launcher closes stdin but leaves its stdout pipe open.
        if server.process.stdout is not None:
            server.process.stdout.close()


@pytest.fixture
def search_url(osmem: OsmemServer) -> Iterator[str]:
    """A copy-on-write clone of the engine for one test: nothing leaks between tests."""
    with osmem.clone() as clone:
        yield clone.url


@pytest.fixture
def settings(tmp_path: Path, search_url: str) -> Settings:
    """Settings pointing at this test's search clone, with a private data directory."""
    return load_settings(data_dir=tmp_path / "data", search={"urls": [search_url]})


@pytest.fixture
async def search(settings: Settings) -> AsyncIterator[SearchClient]:
    """A connected search client on this test's clone."""
    client = await connect_search(settings.search)
    async with client:
        yield client
