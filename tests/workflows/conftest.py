"""Workflow tests: Temporal's time-skipping test server, activities against the real embedded search engine."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from soar.config import Settings
from soar.engines.search import SearchClient
from soar.telemetry.loading import generate_scenario, ingest_scenario
from soar.telemetry.scenario import Scenario
from tests.integration.conftest import osmem, search, search_url, settings

__all__ = ["osmem", "search", "search_url", "settings"]

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


@pytest.fixture(scope="session")
async def workflow_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, once per session."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=str(TEST_SERVER)
    )
    try:
        # The sweeps' activities do real I/O on the embedded search engine and the tests reason in wall-clock
        # windows; letting the server skip time while an activity runs would time it out on a slow machine
        # (start-to-close elapses in skipped time) and fail the sweep, so time runs as the wall clock does.
        with env.auto_time_skipping_disabled():
            yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def own_workflow_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own, for tests that move the clock (``env.sleep``).

    Skipped time on the session's server would move every later test's ``workflow.now()`` too, and the
    sweeps there reason in windows before now.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=str(TEST_SERVER)
    )
    try:
        # Time moves only when a test says so (env.sleep): activities do real I/O on the wall clock.
        with env.auto_time_skipping_disabled():
            yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def small_scenario() -> Scenario:
    """The small scenario, covering the 24 hours before now."""
    return generate_scenario("small", 1337)


@pytest.fixture
async def ingested(search: SearchClient, settings: Settings, small_scenario: Scenario) -> Scenario:
    """The small scenario ingested into this test's search clone."""
    await ingest_scenario(search, settings, small_scenario)
    return small_scenario
