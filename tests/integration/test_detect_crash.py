"""The detection engine survives crashes: kill -9 the worker, or Temporal's dev server, while data streams in.

Every rule group of the pack is swept by its Temporal Schedule every 3 s by a `soar worker` process; the small
scenario streams in through soar's ingest in 48 batches, and the rules cut their windows on `event.ingested`.
At 22 random moments of the stream the worker (one test) or the dev server (the other) is SIGKILLed and
started again: the server on the same SQLite file and port, while the worker lives on. Once every rule's
checkpoint is past the last event, the alerts must equal those of one uninterrupted `run --once` over the same
events: none missed, none extra, no two for the same rule and event, every alert handed over and each routed
alert's playbook started once.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from pathlib import Path

import pytest

from soar.engines.search import SearchClient
from tests.integration.detect_harness import (
    Bench,
    Worker,
    close_bench,
    open_bench,
    schedule_sweeps,
    settle,
    stream,
)
from tests.integration.detect_verdict import Verdict

pytestmark = pytest.mark.engines

SEED = int(os.environ.get("CRASH_TEST_SEED", "20241123"))
KILLS = 22


def _check(verdict: Verdict) -> None:
    figures = verdict.figures
    assert verdict.rules == verdict.reference_rules
    assert figures["reference"] > 0
    assert figures["missed"] == 0, figures
    assert figures["missed_keys"] == 0, figures
    assert figures["extra"] == 0, figures
    assert figures["duplicates"] == 0, figures
    assert set(verdict.facts.statuses) == {"COMPLETED"}, verdict.facts.statuses
    assert verdict.run.handover["pending"] == 0
    assert sorted(verdict.probes) == sorted(f"alert-{uid}" for uid in verdict.run.started)
    assert len(verdict.run.started) > 0


@pytest.mark.timeout(600)
async def test_worker_killed_at_random_points_misses_and_doubles_nothing(
    tmp_path: Path, search: SearchClient, search_url: str
) -> None:
    print(f"crash test seed {SEED} (set CRASH_TEST_SEED to replay another schedule)")
    rng = random.Random(SEED)
    bench = await open_bench(tmp_path, search, search_url)
    try:
        await schedule_sweeps(bench)
        current: list[Worker] = [await bench.pool.spawn()]

        async def kill() -> str:
            os.kill(current[0].pid, signal.SIGKILL)
            current[0] = await bench.pool.spawn()
            return "worker"

        await stream(bench, rng, KILLS, kill)
        verdict = await settle(bench)
    finally:
        await close_bench(bench)
    print(f"{len(bench.kills)} worker kills; {bench.line()}; {verdict.line()}")
    assert len(bench.kills) == KILLS
    assert len(bench.pool.workers) == KILLS + 1
    _check(verdict)
    assert verdict.facts.retried + verdict.facts.task_timeouts > 0  # the kills did interrupt sweeps


@pytest.mark.timeout(600)
async def test_dev_server_killed_at_random_points_misses_and_doubles_nothing(
    tmp_path: Path, search: SearchClient, search_url: str
) -> None:
    print(f"crash test seed {SEED} (set CRASH_TEST_SEED to replay another schedule)")
    rng = random.Random(SEED + 1)
    bench = await open_bench(tmp_path, search, search_url)
    try:
        await schedule_sweeps(bench)
        worker = await bench.pool.spawn()
        await stream(bench, rng, KILLS, lambda: _kill_server(bench, rng))
        verdict = await settle(bench)
        survived = worker.alive()
    finally:
        await close_bench(bench)
    print(f"{len(bench.kills)} server kills; {bench.line()}; {verdict.line()}")
    assert bench.kills == ["server"] * KILLS
    assert survived  # the worker reconnected each time on its own
    assert bench.pool.workers == [worker]
    _check(verdict)


async def _kill_server(bench: Bench, rng: random.Random) -> str:
    """SIGKILL the dev server, leave it down a moment, start it again on the same SQLite file and port."""
    state = bench.engine.state()
    assert state is not None
    os.killpg(state.pid, signal.SIGKILL)
    while bench.engine.state() is not None:  # noqa: ASYNC110 - until it is gone and reaped
        await asyncio.sleep(0.01)
    await asyncio.sleep(rng.uniform(0.0, 2.0))
    restarted = await bench.engine.start()
    assert restarted.pid != state.pid
    assert restarted.address == state.address
    return "server"
