"""Scale-out: two `soar worker` processes on one task queue share the scheduled sweeps, and write what one does.

Every rule group of the pack is swept by its Temporal Schedule every 3 s while the small scenario streams in
(tests/integration/detect_harness.py). Temporal's histories say which worker ran each sweep and each of its
activities: both workers must have run some. The alerts must equal those of one worker's uninterrupted
`run --once` over the same events, with no duplicate and every routed alert's playbook started once.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from soar.engines.search import SearchClient
from tests.integration.detect_harness import close_bench, open_bench, schedule_sweeps, settle, stream

pytestmark = pytest.mark.engines


@pytest.mark.timeout(600)
async def test_two_workers_share_the_sweeps_and_write_the_alerts_of_one(
    tmp_path: Path, search: SearchClient, search_url: str
) -> None:
    bench = await open_bench(tmp_path, search, search_url)
    try:
        await schedule_sweeps(bench)
        workers = [await bench.pool.spawn(), await bench.pool.spawn()]
        await stream(bench, random.Random(5), 0, None)
        verdict = await settle(bench)
        alive = [w.alive() for w in workers]
    finally:
        await close_bench(bench)
    print(f"{bench.line()}; {verdict.line()}")
    assert alive == [True, True]
    pids = {w.pid for w in workers}
    facts = verdict.facts
    assert set(facts.activities) == pids  # both ran sweep activities, and no one else did
    assert set(facts.sweeps) == pids  # both started sweeps
    assert set(facts.statuses) == {"COMPLETED"}, facts.statuses
    figures = verdict.figures
    assert verdict.rules == verdict.reference_rules
    assert figures["reference"] > 0
    assert figures["missed"] == figures["missed_keys"] == figures["extra"] == 0, figures
    assert figures["duplicates"] == 0, figures
    assert verdict.run.handover["pending"] == 0
    assert sorted(verdict.probes) == sorted(f"alert-{uid}" for uid in verdict.run.started)
