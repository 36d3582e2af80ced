"""Detection: 100 rules x 50,000 events, soar's cycle against one search per rule; soar's overhead; memory.

50,000 events of the default scenario go through soar's ingest into osmem; 100 Sigma rules are generated
over their fields (``bench/detection_rules.py``) and compiled by soar; a rule is kept when it has at most
``MAX_HITS`` hits. One window covers every event. The two sides (``bench/detection_sides.py``) run in
``ROUNDS`` rounds, the order alternated, each in a search-only and a search + write variant; each write run
writes into a fresh alerts index, deleted after it. Both sides must find the same hits per rule.
Memory: the rules of ``MEMORY_RULES`` (every Envoy event) over the first tenth of their hits, then over all of them.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osmem_server import OsmemServer

from bench import detection_report, detection_rules
from bench.detection_probe import EngineOnCpu, PeakRss, Probe, busy_time
from bench.detection_sides import DEFAULTS, SMALL_PAGE, naive_cycle, soar_cycle
from bench.response_load import cpu_seconds
from soar.config import SearchSettings
from soar.detect.alerts import alerts_index, checkpoints_index
from soar.detect.checkpoints import ensure_indices
from soar.detect.models import RuleWindow, Window
from soar.detect.ruleset import detect_rules, group_rules
from soar.detect.settings import RuleOptions
from soar.engines.search import SearchClient, connect_search
from soar.heap import freeze_startup_heap
from soar.rules.compile import compile_rules
from soar.rules.models import CompiledRule
from soar.telemetry.ingest import ingest_lines, install_templates
from soar.telemetry.sources import Source

NAMESPACE = "bench"
ROUNDS = 5
MAX_HITS = 1000
MAX_ALERTS = 1_000_000  # no rule is capped: every hit is written on both sides
Groups = dict[str, list[RuleWindow]]


@dataclass
class Load:
    """The engine, the client and what was loaded into it."""

    search: SearchClient
    probe: Probe
    engine_pid: int
    window: Window
    events: dict[str, int]
    ingest_s: float
    groups: Groups = field(default_factory=dict)
    memory: Groups = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)


@dataclass
class Run:
    """One timed run of one side."""

    side: str
    write: bool
    wall: float
    cpu: float  # this process: soar (or the baseline) and its client
    engine_cpu: float
    busy: float  # the engine's took, overlapping requests counted once (bench.detection_probe)
    working: float  # wall time during which the engine was on a CPU (bench.detection_probe.EngineOnCpu)
    requests: Counter[str]
    hits: int


async def _ingest(search: SearchClient, lines: dict[Source, list[str]]) -> tuple[dict[str, int], float]:
    await install_templates(search)
    started = time.perf_counter()
    for source, raw in lines.items():
        report = await ingest_lines(search, source, raw, namespace=NAMESPACE)
        if report.total_indexed != len(raw):
            raise RuntimeError(f"ingest of {source.value} indexed {report.total_indexed} of {len(raw)}")
    seconds = time.perf_counter() - started
    await search.es.indices.refresh(index=f"logs-*-{NAMESPACE}")
    return {source.value: len(raw) for source, raw in lines.items()}, seconds


async def _window(search: SearchClient) -> Window:
    """From the first event to just after the last one."""
    aggs = {"first": {"min": {"field": "@timestamp"}}, "last": {"max": {"field": "@timestamp"}}}
    found = await search.es.search(index=f"logs-*-{NAMESPACE}", size=0, aggs=aggs)
    first, last = (int(found["aggregations"][k]["value"]) for k in ("first", "last"))
    return Window(start=detection_report.from_millis(first), end=detection_report.from_millis(last + 1))


def _compiled(path: Path) -> CompiledRule | None:
    result = compile_rules([path])
    return result.rules[0] if result.rules and not result.errors else None


async def _choose(load: Load, folder: Path, lines: dict[Source, list[str]]) -> list[CompiledRule]:
    """The first candidates of each source with at most ``MAX_HITS`` hits, numbered 1 to 100."""
    chosen: list[CompiledRule] = []
    for source, quota in detection_rules.RULES.items():
        counts = detection_rules.value_counts(source, lines[source])
        candidates = detection_rules.rule_candidates(source, counts)
        kept = 0
        while kept < quota:
            rule = next(candidates)
            path = folder / f"bench-{len(chosen) + 1:03d}.yml"
            path.write_text(detection_rules.rule_yaml(rule, len(chosen) + 1), "utf-8")
            compiled = _compiled(path)
            hits = -1 if compiled is None else await _count(load.search, compiled)
            if compiled is None or hits > MAX_HITS:
                path.unlink()
                continue
            chosen.append(compiled)
            load.rules.append(rule)
            load.hits[compiled.rule_id] = hits
            kept += 1
    return chosen


async def _count(search: SearchClient, rule: CompiledRule) -> int:
    return int((await search.es.count(index=rule.index, query=rule.query))["count"])


def _groups(rules: list[CompiledRule], window: Window) -> Groups:
    options = RuleOptions(max_alerts=MAX_ALERTS)
    return {
        group: [
            RuleWindow(rule=r, window=window, max_alerts=MAX_ALERTS) for r in detect_rules(members, options)
        ]
        for group, members in group_rules(rules).items()
    }


def _windowed(groups: Groups, window: Window) -> Groups:
    return {g: [item.model_copy(update={"window": window}) for item in items] for g, items in groups.items()}


async def _drop(search: SearchClient, namespace: str) -> None:
    names = f"{alerts_index(namespace)},{checkpoints_index(namespace)}"
    await search.es.indices.delete(index=names, ignore_unavailable=True)


async def timed(
    load: Load, groups: Groups, side: str, write: bool, namespace: str, page_size: int = DEFAULTS.page_size
) -> Run:
    """One run of one side; checks it found the hits the rules have (and, writing, wrote one alert each)."""
    if write:
        await ensure_indices(load.search, namespace)
    engine, cpu = cpu_seconds(load.engine_pid), time.process_time()
    load.probe.start()
    with EngineOnCpu(load.engine_pid) as working:
        started = time.perf_counter()
        if side == "soar":
            hits = await soar_cycle(load.search, groups, namespace, write=write, page_size=page_size)
        else:
            hits = {
                rule: len(times)
                for rule, times in (await naive_cycle(load.search, groups, namespace, write=write)).items()
            }
        wall = time.perf_counter() - started
    requests = load.probe.stop()
    cpu, engine = time.process_time() - cpu - working.own_cpu, cpu_seconds(load.engine_pid) - engine
    if groups is load.groups and hits != load.hits:
        raise RuntimeError(f"{side} found other hits than the rules have")
    if write:
        written = (await load.search.es.count(index=alerts_index(namespace)))["count"]
        if written != sum(hits.values()):
            raise RuntimeError(f"{side} wrote {written} alerts for {sum(hits.values())} hits")
        await _drop(load.search, namespace)
    kinds = Counter(r.endpoint for r in requests)
    return Run(
        side,
        write,
        wall,
        cpu,
        engine,
        busy_time(requests),
        min(working.busy, wall),
        kinds,
        sum(hits.values()),
    )


async def rounds(load: Load) -> list[Run]:
    """``ROUNDS`` rounds of both sides, search only then search + write, the order alternated."""
    runs: list[Run] = []
    for n in range(ROUNDS):
        order = ("soar", "naive") if n % 2 == 0 else ("naive", "soar")
        for write in (False, True):
            for side in order:
                runs.append(await timed(load, load.groups, side, write, f"{side}-{n}-{int(write)}"))
    return runs


async def _memory_run(
    load: Load, groups: Groups, side: str, write: bool, namespace: str, page_size: int = DEFAULTS.page_size
) -> dict[str, Any]:
    with detection_report.PythonPeak() as python, PeakRss(load.engine_pid) as engine:
        run = await timed(load, groups, side, write, namespace, page_size)
    return {
        "hits": run.hits,
        "python": python.growth,
        "engine": engine.growth,
        "engine_base": engine.before,
        "wall": run.wall,
        "engine_cpu": run.engine_cpu,
    }


async def memory(load: Load) -> dict[str, dict[str, dict[str, Any]]]:
    """The broad rules over the first tenth of their hits (N) and over all of them (10N)."""
    times = sorted(
        t for ts in (await naive_cycle(load.search, load.memory, "probe", write=False)).values() for t in ts
    )
    tenth = Window(start=load.window.start, end=detection_report.from_millis(int(times[len(times) // 10])))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for label, window in (("N", tenth), ("10N", load.window)):
        groups = _windowed(load.memory, window)
        out[label] = {
            "soar search only": await _memory_run(load, groups, "soar", False, f"mem-{label.lower()}-s0"),
            "soar search + write": await _memory_run(load, groups, "soar", True, f"mem-{label.lower()}-s1"),
            "naive search only": await _memory_run(load, groups, "naive", False, f"mem-{label.lower()}-n0"),
            "naive search + write": await _memory_run(load, groups, "naive", True, f"mem-{label.lower()}-n1"),
            # A smaller page, so that at N every rule already streams: the bounds are reached at both sizes.
            "soar small pages search only": await _memory_run(
                load, groups, "soar", False, f"mem-{label.lower()}-p0", SMALL_PAGE
            ),
            "soar small pages search + write": await _memory_run(
                load, groups, "soar", True, f"mem-{label.lower()}-p1", SMALL_PAGE
            ),
        }
    return out


async def _prepare(search: SearchClient, engine_pid: int, folder: Path) -> Load:
    lines = detection_rules.event_lines()
    events, seconds = await _ingest(search, lines)
    probe = Probe()
    probe.install(search)
    load = Load(search, probe, engine_pid, await _window(search), events, seconds)
    load.groups = _groups(await _choose(load, folder, lines), load.window)
    memory_rules: list[CompiledRule] = []
    for n, rule in enumerate(detection_rules.MEMORY_RULES, start=901):
        path = folder / "memory" / f"memory-{n}.yml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(detection_rules.rule_yaml(rule, n), "utf-8")
        compiled = _compiled(path)
        if compiled is None:
            raise RuntimeError(f"memory rule {n} does not compile")
        memory_rules.append(compiled)
    load.memory = _groups(memory_rules, load.window)
    return load


async def _run(folder: Path) -> str:
    load_before = detection_report.loadavg()
    server = OsmemServer.start(japanese=False)
    try:
        async with await connect_search(SearchSettings(urls=[server.url], request_timeout=300)) as search:
            load = await _prepare(search, server.process.pid, folder)
            freeze_startup_heap()  # as a worker does once started; both sides run in this process
            runs = await rounds(load)
            used = await memory(load)
    finally:
        server.close()
        if server.process.stdout is not None:
            server.process.stdout.close()
    return detection_report.markdown(load, runs, used, (load_before, detection_report.loadavg()), MAX_HITS)


def run() -> str:
    """Run the bench and return the Markdown section."""
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_run(Path(tmp)))
