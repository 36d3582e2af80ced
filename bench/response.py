"""Response: how soon a new alert's playbook starts, and how fast one worker triages 1,000 alerts.

Dispatch: the default scenario ingested into osmem and swept by every rule of ``detections/`` (``run_once``,
the hand-over on), the whole soar worker running. First the scenario's first sweep (25 hours caught up in
windows of 6 hours), then the next scheduled sweep after the events behind those playbooks arrive again (new
ids, times within its one window). Latency = the playbook workflow's start time (Temporal's ``start_time``)
minus the alert's ``@timestamp`` (when it was made: its rule's first page of hits back, before its write).

Triage: 1,000 alerts about users, OAuth clients, workloads, SPIFFE principals and Internet addresses (200
entities, so alerts group into incidents) handed over at once; the clock runs from the first triage's start
to the last one's close on Temporal's dev server. One worker process: the soar worker (every workflow and
activity, containment and incidents included) in this process, the fakes of Keycloak, Okta, Kubernetes and
the webhook in processes of their own. Activities and search requests are counted while it runs.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from osmem_server import OsmemServer
from temporalio.client import Client

from bench import response_load as load
from bench.response_load import ENTITIES, NAMESPACE, Counting, Tally, count_requests
from soar.config import Settings, load_settings
from soar.connectors.responders import Responders
from soar.detect.alerts import alerts_index
from soar.detect.checkpoints import ensure_indices
from soar.detect.handover import CONCURRENCY, hand_over
from soar.detect.run import run_once
from soar.engines.embedded import EmbeddedTemporal, free_port
from soar.engines.search import SearchClient, connect_search
from soar.engines.workflow import connect_temporal
from soar.telemetry.loading import generate_scenario, ingest_scenario
from soar.testing import connector_settings, spawn
from soar.worker import load_response_config, soar_worker

REPO = Path(__file__).resolve().parents[1]
ALERTS = 1000


@dataclass
class Stack:
    """Engines, fakes, clients and the worker the bench runs against."""

    settings: Settings
    search: SearchClient  # the bench's own requests
    temporal: Client  # the bench's own connection (the worker has another)
    tally: Tally
    processes: dict[str, list[int]]  # pids whose CPU time is reported, by role


@asynccontextmanager
async def _stack(tmp: Path) -> AsyncIterator[Stack]:
    """osmem, Temporal's dev server, the fakes in processes of their own, and the soar worker in this one."""
    osmem = OsmemServer.start(japanese=False)
    engine = EmbeddedTemporal(
        load_settings(
            data_dir=tmp / "engines", embedded={"temporal_port": free_port(), "temporal_ui_port": free_port()}
        )
    )
    await engine.start()
    seeds = load.seeds(tmp)
    with ExitStack() as fakes:
        kc, okta, k8s, hook = (
            fakes.enter_context(spawn(kind, seeds.get(kind)))
            for kind in ("keycloak", "okta", "kubernetes", "webhook")
        )
        settings = load_settings(
            data_dir=tmp / "data",
            search={"urls": [osmem.url]},
            temporal={"address": engine.address},
            response={
                "routing_file": REPO / "response" / "routing.yml",
                "catalogue_file": REPO / "response" / "catalogue.yml",
                "connectors": connector_settings(keycloak=kc, okta=okta, kubernetes=k8s, webhook=hook),
            },
        )
        try:
            async with (
                await connect_search(settings.search) as search,
                await connect_search(settings.search) as own,
            ):
                temporal = await connect_temporal(settings.temporal)
                tally = Tally()
                count_requests(search, tally)
                config = load_response_config(settings)
                responders = Responders(settings.response.connectors, settings.data_dir / "dry-run")
                worker = soar_worker(
                    settings,
                    search,
                    temporal,
                    config=config,
                    responders=responders,
                    interceptors=[Counting(tally)],
                )
                async with responders, worker as running, running:
                    # The bench waits on hundreds of results at once: on a connection of its own, so those
                    # long polls never queue the worker's polls behind them.
                    state = engine.state()
                    processes = {
                        "soar worker (the bench's process)": [os.getpid()],
                        "Temporal dev server": [state.pid] if state else [],
                        "osmem": [osmem.process.pid],
                        "fakes": [f.process.pid for f in (kc, okta, k8s, hook)],
                    }
                    own_temporal = await connect_temporal(settings.temporal)
                    yield Stack(settings, own, own_temporal, tally, processes)
        finally:
            await engine.stop()
            osmem.close()
            if osmem.process.stdout is not None:
                osmem.process.stdout.close()


async def _finished(temporal: Client, workflow_ids: list[str]) -> None:
    gate = asyncio.Semaphore(200)

    async def one(workflow_id: str) -> None:
        async with gate:
            await temporal.get_workflow_handle(workflow_id).result()

    await asyncio.gather(*(one(w) for w in workflow_ids))


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _sweep(stack: Stack, before: set[str]) -> dict[str, Any]:
    """One sweep of every rule group; per playbook it started, ``@timestamp`` to the workflow's start."""
    search, temporal = stack.search, stack.temporal
    routing = load_response_config(stack.settings).response.routing
    started = time.perf_counter()
    summary = await run_once(search, temporal, stack.settings, [REPO / "detections"], routing=routing)
    seconds = time.perf_counter() - started
    await search.es.indices.refresh(index=alerts_index(NAMESPACE))
    found = await search.es.search(
        index=alerts_index(NAMESPACE),
        query={"term": {"soar.alert.handover.status": "started"}},
        size=10_000,
        source_includes=["@timestamp", "soar.alert.workflow_id"],
    )
    written = {
        h["_source"]["soar"]["alert"]["workflow_id"]: h["_source"]["@timestamp"]
        for h in found["hits"]["hits"]
    }
    starts = {w.id: w.start_time async for w in temporal.list_workflows("WorkflowType='Triage'")}
    latencies = [
        (starts[w] - datetime.fromisoformat(at)).total_seconds()
        for w, at in written.items()
        if w not in before
    ]
    await _finished(temporal, list(written))
    return {
        "rules": summary.totals()["rules"],
        "windows": summary.totals()["windows"],
        "alerts": summary.totals()["alerts_created"],
        "started": len(latencies),
        "ids": set(written),
        "sweep_s": seconds,
        "p50": _percentile(latencies, 0.5),
        "p95": _percentile(latencies, 0.95),
        "max": max(latencies),
    }


async def _fresh_copies(search: SearchClient, since: datetime, until: datetime) -> int:
    """Copies of the events whose alerts started a playbook, with new ids, re-timed in order into ``[since, until)``."""
    alerts = await search.es.search(
        index=alerts_index(NAMESPACE),
        size=10_000,
        source_includes=["soar.alert.source"],
        query={"term": {"soar.alert.handover.status": "started"}},
    )
    refs = sorted({(h["_source"]["soar"]["alert"]["source"]["index"], h["_source"]["soar"]["alert"]["source"]["id"])
                   for h in alerts["hits"]["hits"]})  # fmt: skip
    docs: list[tuple[str, str, dict[str, Any]]] = []
    for index in sorted({i for i, _ in refs}):
        found = await search.es.mget(index=index, ids=[d for i, d in refs if i == index])
        docs += [(index, d["_id"], d["_source"]) for d in found["docs"] if d.get("found")]
    docs.sort(key=lambda d: str(d[2].get("@timestamp")))
    step = (until - since) / max(len(docs), 1)
    operations: list[dict[str, Any]] = []
    for n, (index, doc_id, source) in enumerate(docs):
        operations += [
            {"create": {"_index": index, "_id": f"fresh-{doc_id}"}},
            source | {"@timestamp": (since + step * n).isoformat()},
        ]
    await search.es.bulk(operations=operations, refresh=True)
    return len(docs)


async def dispatch(stack: Stack) -> dict[str, Any]:
    """The default scenario's first sweep (a 25-hour catch-up), then a scheduled sweep over fresh events."""
    scenario = generate_scenario("default", 1337)
    await ingest_scenario(stack.search, stack.settings, scenario)
    swept = datetime.now(UTC)
    catch_up = await _sweep(stack, set())
    # The next scheduled sweep: its window starts an overlap before where this one ended (swept - delay).
    window = stack.settings.detect.rules
    since = swept - window.ingest_delay - window.overlap + timedelta(seconds=5)
    copies = await _fresh_copies(
        stack.search, since, datetime.now(UTC) - window.ingest_delay - timedelta(seconds=5)
    )
    steady = await _sweep(stack, catch_up["ids"])
    return {
        "events": sum(scenario.counts().values()),
        "copies": copies,
        "catch_up": catch_up,
        "steady": steady,
    }


async def triage(stack: Stack, count: int = ALERTS) -> dict[str, Any]:
    """``count`` alerts handed over at once; from the first triage's start to the last one's close."""
    search, temporal = stack.search, stack.temporal
    rng = random.Random(1337)
    alerts = list(load.alerts(count, rng))
    operations: list[dict[str, Any]] = []
    for uid, _, doc in alerts:
        operations += [{"create": {"_index": alerts_index(NAMESPACE), "_id": uid}}, doc]
    await ensure_indices(search, NAMESPACE)
    await search.es.bulk(operations=operations, refresh=True)
    routing = load_response_config(stack.settings).response.routing
    before = {w.id async for w in temporal.list_workflows()}
    stack.tally.reset()
    cpu = {role: sum(map(load.cpu_seconds, pids)) for role, pids in stack.processes.items()}
    clock = time.perf_counter()
    await asyncio.gather(
        *(hand_over(search, temporal, routing, NAMESPACE, g) for g in sorted({g for _, g, _ in alerts}))
    )
    ids = [f"alert-{uid}" for uid, _, _ in alerts]
    await _finished(temporal, ids)
    wall = time.perf_counter() - clock
    cpu = {role: sum(map(load.cpu_seconds, pids)) - cpu[role] for role, pids in stack.processes.items()}
    tally = Tally(
        Counter(stack.tally.activities),
        defaultdict(float, stack.tally.seconds),
        Counter(stack.tally.requests),
    )
    runs, triages = await _closed_runs(temporal, before, len(ids))
    first = min(w.start_time for w in triages)
    last = max(w.close_time for w in triages if w.close_time is not None)
    return {
        "count": len(triages),
        "completed": sum(1 for w in triages if w.status is not None and w.status.name == "COMPLETED"),
        "seconds": (last - first).total_seconds(),
        "wall": wall,
        "cpu": cpu,
        "workflows": Counter(w.workflow_type for w in runs),
        "tally": tally,
    }


async def _closed_runs(temporal: Client, before: set[str], count: int) -> tuple[list[Any], list[Any]]:
    """The runs started since ``before`` and their triages, once visibility shows ``count`` triages closed.

    Every result is in by now, but the dev server's visibility store lags its histories: a triage listed
    before its close is recorded would drop out of the last close time.
    """
    for _ in range(60):
        runs = [w async for w in temporal.list_workflows() if w.id not in before]
        triages = [w for w in runs if w.workflow_type == "Triage"]
        if sum(1 for w in triages if w.close_time is not None) >= count:
            break
        await asyncio.sleep(0.5)
    return runs, triages


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _dispatch_rows(d: dict[str, Any]) -> list[str]:
    rows = [
        "| sweep | windows | alerts written | playbooks started | sweep (s) | p50 (s) | p95 (s) | max (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, key in (
        ("first sweep: 25 hours caught up in windows of 6 hours", "catch_up"),
        (f"next sweep: {d['copies']} events behind those playbooks arrive again, one window", "steady"),
    ):
        r = d[key]
        rows.append(
            f"| {name} | {r['windows']} | {r['alerts']:,} | {r['started']} | {r['sweep_s']:.1f} | "
            f"{r['p50']:.2f} | {r['p95']:.2f} | {r['max']:.2f} |"
        )
    return rows


def _cpu_rows(cpu: dict[str, float], seconds: float, n: int) -> list[str]:
    total = sum(cpu.values())
    rows = [
        f"Where the time goes: the machine's CPU. {total:,.0f} CPU-seconds in {seconds:.0f} s "
        f"({total / n:.2f} per triage, its containment and incident work included):",
        "",
        "| process | CPU seconds | per triage | share |",
        "| --- | ---: | ---: | ---: |",
    ]
    for role, used in sorted(cpu.items(), key=lambda item: -item[1]):
        rows.append(f"| {role} | {used:,.1f} | {used / n:.3f} | {used / (total or 1):.0%} |")
    return rows


def _markdown(d: dict[str, Any], t: dict[str, Any]) -> str:
    tally: Tally = t["tally"]
    n = t["count"] or 1
    steady = d["steady"]["p95"]
    out = [
        "## Response: dispatch and triage",
        "",
        f"Dispatch: every rule of `detections/` over the default scenario ({d['events']:,} events), the whole "
        "worker running; per playbook started (alerts of level medium and above), from the alert's "
        "`@timestamp` (when it was made: its rule's first page of hits back, before the alert is written) to "
        "the workflow's start time. Each bulk of new alerts starts its playbooks as soon as it is written, "
        f"{CONCURRENCY} starts at a time, while the step's other rules are still searching.",
        "",
        *_dispatch_rows(d),
        "",
        f"Goal p95 <= 1 s, on the scheduled sweep: {_verdict(steady <= 1)} ({steady:.2f} s). In a catch-up, "
        "all of its windows' alerts are made at once and queue for the starts.",
        "",
        f"Triage: {n:,} alerts ({ENTITIES} entities) handed over at once, {t['completed']:,} triage runs completed "
        f"in {t['seconds']:.1f} s from the first start to the last close ({n / t['seconds']:.1f}/s; "
        f"{t['wall']:.1f} s from the hand-over to the last result). One worker process (every workflow and "
        f"activity, in the bench's process; fakes in their own). Goal <= 60 s: {_verdict(t['seconds'] <= 60)}.",
        "Workflows started: " + ", ".join(f"{k} {v:,}" for k, v in sorted(t["workflows"].items())) + ".",
        "",
        *_cpu_rows(t["cpu"], t["seconds"], n),
        "",
        "| activity | runs | per triage | seconds (summed over concurrent runs) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, runs in tally.activities.most_common():
        out.append(f"| {name} | {runs:,} | {runs / n:.2f} | {tally.seconds[name]:,.1f} |")
    total = sum(tally.requests.values())
    out += [
        "",
        f"Search requests: {total:,} ({total / n:.1f} per triage, containment and incident work included).",
        "",
        "| request | count | per triage |",
        "| --- | ---: | ---: |",
    ]
    for name, count in tally.requests.most_common(12):
        out.append(f"| `{name}` | {count:,} | {count / n:.2f} |")
    return "\n".join([*out, ""])


async def _run(tmp: Path) -> str:
    async with _stack(tmp) as stack:
        measured = await dispatch(stack)
        triaged = await triage(stack)
    return _markdown(measured, triaged)


def run() -> str:
    """Run both benchmarks and return the Markdown section."""
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_run(Path(tmp)))
