"""The engines a command needs: configured, else running embedded, else embedded for the command's duration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.client import Client

from soar.config import Settings
from soar.engines.embedded import EmbeddedSearch, EmbeddedTemporal
from soar.engines.search import SearchClient, connect_search
from soar.engines.workflow import connect_temporal


@asynccontextmanager
async def search_session(settings: Settings) -> AsyncIterator[SearchClient]:
    """A search client for the duration of the block."""
    if settings.search.configured:
        client = await connect_search(settings.search)
        async with client:
            yield client
        return
    engine = EmbeddedSearch(settings)
    started = engine.state() is None
    if started:
        await engine.start()
    try:
        client = await connect_search(settings.search, engine.address)
        async with client:
            yield client
    finally:
        if started:
            await engine.stop()


@asynccontextmanager
async def temporal_session(settings: Settings) -> AsyncIterator[Client]:
    """A Temporal client for the duration of the block."""
    if settings.temporal.configured:
        yield await connect_temporal(settings.temporal)
        return
    engine = EmbeddedTemporal(settings)
    started = engine.state() is None
    if started:
        await engine.start()
    try:
        yield await connect_temporal(settings.temporal, engine.address)
    finally:
        if started:
            await engine.stop()
