"""What the detection crash and scale-out tests drive: a telemetry stream, scheduled sweeps, `soar worker`s.

Real engines only: the test's clone of the embedded search engine, Temporal's dev server (SQLite file, so it
can be killed and restarted on the same file and port) and `soar worker` processes forked from a zygote
(tests/integration/crash_harness.py). The small scenario is ingested through soar's own ingest in batches
while every rule group is swept by its Temporal Schedule; the rules cut their windows on `event.ingested`,
so events keep arriving inside the windows being swept. Afterwards the alerts are compared with those of
one uninterrupted `run --once` over the same events, written to another namespace.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus

from soar.config import Settings, load_settings
from soar.detect.alerts import checkpoints_index
from soar.detect.checkpoints import ensure_indices
from soar.detect.run import rule_groups, run_once
from soar.detect.schedules import group_schedule, set_paused, upsert_schedules
from soar.engines.embedded import EmbeddedTemporal, free_port
from soar.engines.search import SearchClient
from soar.engines.workflow import connect_temporal
from soar.telemetry.ingest import ingest_lines, install_templates, refresh
from soar.telemetry.scenario import generate
from tests.conftest import REPO
from tests.integration.crash_harness import ZYGOTE
from tests.integration.detect_verdict import PROBE, Verdict, alerts, compare, probes, sweep_facts

SCENARIO, SCENARIO_SEED = "small", 7
BATCHES = 48
INTERVAL = timedelta(seconds=3)
# Windows on the ingest time: events arrive inside the windows being swept. The ingest delay covers the
# time from a batch's `event.ingested` to its being searchable; the overlap re-reads a little of the last window.
DETECT = {
    "rules": {"interval": "3s", "overlap": "5s", "ingest_delay": "20s", "time_field": "event.ingested"},
}
ROUTING = f"routes:\n  - {{workflow: {PROBE}, task_queue: detect-crash-probe}}\n"
REFERENCE = "reference"
RUNNING = WorkflowExecutionStatus.RUNNING


@dataclass
class Worker:
    """One `soar worker` process (a child of the zygote) and its log."""

    pid: int
    log: Path

    def ready(self) -> bool:
        """Whether it polls its task queue."""
        return self.log.exists() and "worker on task queue" in self.log.read_text(errors="replace")

    def alive(self) -> bool:
        """Whether the process runs (a killed child stays a zombie until the zygote reaps it)."""
        try:
            return Path(f"/proc/{self.pid}/stat").read_text().split(") ")[1][0] not in "ZX"
        except (OSError, IndexError):
            return False


class WorkerPool:
    """`soar worker` processes forked from one zygote, any number at a time."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.logs = logs
        self.zygote = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
            cwd=logs, text=True,
        )  # fmt: skip
        self.workers: list[Worker] = []

    async def spawn(self) -> Worker:
        """Fork a worker and wait until it polls."""
        assert self.zygote.stdin is not None
        assert self.zygote.stdout is not None
        log = self.logs / f"worker-{len(self.workers) + 1:02d}.log"
        self.zygote.stdin.write(f"spawn {log}\n")
        self.zygote.stdin.flush()
        worker = Worker(int(self.zygote.stdout.readline()), log)
        self.workers.append(worker)
        for _ in range(1200):
            if worker.ready():
                return worker
            assert worker.alive(), log.read_text(errors="replace")
            await asyncio.sleep(0.05)
        raise AssertionError(f"worker {worker.pid} did not start: {log.read_text(errors='replace')}")

    def close(self) -> None:
        """SIGTERM the live workers (SIGKILL after 20 s), then stop the zygote."""
        live = [w for w in self.workers if w.alive()]
        for w in live:
            os.kill(w.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while any(w.alive() for w in live) and time.monotonic() < deadline:
            time.sleep(0.1)
        for w in live:
            if w.alive():
                os.kill(w.pid, signal.SIGKILL)
        assert self.zygote.stdin is not None
        assert self.zygote.stdout is not None
        self.zygote.stdin.close()
        self.zygote.wait(timeout=30)
        self.zygote.stdout.close()


def scenario_batches() -> list[dict[Any, list[str]]]:
    """The small scenario's raw lines, each source cut into BATCHES consecutive slices."""
    records = generate(SCENARIO, seed=SCENARIO_SEED, start=datetime.now(UTC) - timedelta(days=1)).records
    batches: list[dict[Any, list[str]]] = [{} for _ in range(BATCHES)]
    for source, lines in records.items():
        size = -(-len(lines) // BATCHES)
        for i in range(BATCHES):
            if chunk := lines[i * size : (i + 1) * size]:
                batches[i][source] = chunk
    return batches


@dataclass
class Bench:
    """The engines, settings and workers of one test."""

    tmp: Path
    search: SearchClient
    engine: EmbeddedTemporal
    temporal: Client
    settings: Settings
    rules: Path
    pool: WorkerPool
    events: int = 0
    lag: float = 0.0  # the longest time from a batch's ingest time to its being searchable, seconds
    kills: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The stream's figures, for the test's output."""
        return f"{self.events} events in {BATCHES} batches (longest batch ingest {self.lag:.2f}s)"

    @property
    def groups(self) -> list[str]:
        """The rule groups swept."""
        return sorted(rule_groups([self.rules], self.settings)[0])


async def open_bench(tmp: Path, search: SearchClient, search_url: str) -> Bench:
    """Start Temporal's dev server, copy the rules, and get ready to fork workers (none runs yet)."""
    ports = {"temporal_port": free_port(), "temporal_ui_port": free_port()}
    engine = EmbeddedTemporal(load_settings(data_dir=tmp / "engines", embedded=ports))
    await engine.start()
    rules = tmp / "detections"
    shutil.copytree(REPO / "detections", rules)  # the pack as it is now, whatever others edit meanwhile
    (tmp / "routing.yml").write_text(ROUTING)
    settings = load_settings(
        data_dir=tmp / "test",
        search={"urls": [search_url]},
        temporal={"address": engine.address},
        detect=DETECT,
    )
    env = {
        **os.environ,
        "SOAR_DATA_DIR": str(tmp / "worker"),
        "SOAR_SEARCH__URLS": search_url,
        "SOAR_TEMPORAL__ADDRESS": engine.address,
        "SOAR_RESPONSE__ROUTING_FILE": str(tmp / "routing.yml"),
    }
    (tmp / "logs").mkdir()
    temporal = await connect_temporal(settings.temporal)
    bench = Bench(tmp, search, engine, temporal, settings, rules, WorkerPool(env, tmp / "logs"))
    await install_templates(search)
    await ensure_indices(search, settings.namespace)
    return bench


async def close_bench(bench: Bench) -> None:
    """Stop the workers and the dev server."""
    try:
        bench.pool.close()
    finally:
        await bench.engine.stop()


async def schedule_sweeps(bench: Bench) -> None:
    """One Temporal Schedule per rule group, every INTERVAL (what `soar detect schedule` creates)."""
    groups, errors = rule_groups([bench.rules], bench.settings)
    assert errors == []
    schedules = {
        g: group_schedule(g, r, [bench.rules], bench.settings, bench.settings.detect, INTERVAL)
        for g, r in groups.items()
    }
    await upsert_schedules(bench.temporal, schedules)


async def ingest(bench: Bench, batch: dict[Any, list[str]]) -> None:
    """Ingest one batch through soar's ingest (event.ingested = now) and make it searchable."""
    started = time.monotonic()
    for source, lines in batch.items():
        report = await ingest_lines(bench.search, source, lines, namespace=bench.settings.namespace)
        bench.events += report.total_indexed
    await refresh(bench.search, bench.settings.namespace)
    bench.lag = max(bench.lag, time.monotonic() - started)


async def stream(
    bench: Bench, rng: random.Random, kills: int, kill: Callable[[], Awaitable[str]] | None
) -> None:
    """Ingest the batches 1 to 2 s apart; ``kills`` times, ``kill`` at a random moment between two batches.

    The kills fall into random gaps of the stream (never before the first batch or after the last), at a
    random time within the gap: the sweeps run on their own schedule, so they are hit at random points.
    """
    batches = scenario_batches()
    gaps = set(rng.sample(range(1, len(batches)), kills))
    for i, batch in enumerate(batches):
        if i in gaps and kill is not None:
            pause = rng.uniform(1.0, 2.0)
            before = rng.uniform(0.0, pause)
            await asyncio.sleep(before)
            bench.kills.append(await kill())
            await asyncio.sleep(pause - before)
        elif i:
            await asyncio.sleep(rng.uniform(1.0, 2.0))
        await ingest(bench, batch)


async def last_ingested(search: SearchClient) -> datetime:
    """The latest `event.ingested` of the telemetry."""
    found = await search.es.search(
        index="logs-*", size=1, sort=[{"event.ingested": "desc"}], source_includes=["event.ingested"]
    )
    return datetime.fromisoformat(found["hits"]["hits"][0]["_source"]["event"]["ingested"])


async def checkpoints(search: SearchClient, namespace: str) -> dict[str, dict[str, Any]]:
    """Every checkpoint of the namespace, by rule id."""
    found = await search.es.search(index=checkpoints_index(namespace), size=1000)
    return {hit["_id"]: hit["_source"] for hit in found["hits"]["hits"]}


async def caught_up(bench: Bench, rules: int) -> dict[str, dict[str, Any]]:
    """Wait until every rule's checkpoint is past the last event, then pause the schedules and drain.

    Returns:
        The checkpoints once no sweep runs any more.
    """
    last = await last_ingested(bench.search)
    for _ in range(300):
        found = await checkpoints(bench.search, bench.settings.namespace)
        behind = sorted(r for r, c in found.items() if datetime.fromisoformat(c["end"]) <= last)
        if len(found) == rules and not behind:
            break
        await asyncio.sleep(1)
    else:
        stuck = await _running(bench.temporal)
        raise AssertionError(
            f"sweeps did not catch up: {len(behind)} of {rules} rules behind; running: {stuck}"
        )
    for group in bench.groups:
        await set_paused(bench.temporal, group, True)
    while await _running(bench.temporal):  # noqa: ASYNC110 - another process: no event to await
        await asyncio.sleep(1)
    return await checkpoints(bench.search, bench.settings.namespace)


async def _running(temporal: Client) -> list[str]:
    """The running sweeps and their pending activities (what a stuck sweep waits for)."""
    out = []
    async for w in temporal.list_workflows("WorkflowType = 'DetectSweep' AND ExecutionStatus = 'Running'"):
        described = await temporal.get_workflow_handle(w.id, run_id=w.run_id).describe()
        pending = [
            f"{p.activity_type.name} attempt {p.attempt} ({p.last_failure.message or 'no failure'})"
            for p in described.raw_description.pending_activities
        ]
        out.append(f"{w.id}: {pending}")
    return out


async def reference(bench: Bench) -> int:
    """One uninterrupted sweep of every group over all the events, on one in-process worker, into REFERENCE.

    Returns:
        The number of rules swept.
    """
    settings = bench.settings.model_copy(update={"namespace": REFERENCE})
    summary = await run_once(bench.search, bench.temporal, settings, [bench.rules])
    assert summary.rule_errors == []
    return summary.totals()["rules"]


async def settle(bench: Bench) -> Verdict:
    """Let the sweeps catch up past the last event, stop them, then run the reference and compare."""
    groups, _ = rule_groups([bench.rules], bench.settings)
    members = sum(len(r) for r in groups.values())
    found = await caught_up(bench, members)
    facts = await sweep_facts(bench.temporal)
    started = await probes(bench.temporal)
    swept = await reference(bench)
    run = await alerts(bench.search, bench.settings.namespace)
    ref = await alerts(bench.search, REFERENCE)
    gaps = sum(1 for c in found.values() for g in c["gaps"] if g["filled"])
    return Verdict(compare(run, ref), facts, run, started, members, swept, gaps)
