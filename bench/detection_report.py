"""The detection bench's figures and Markdown: ratios of the two sides, soar's overhead, memory."""

from __future__ import annotations

import statistics
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.detection_rules import MEMORY_RULES
from bench.detection_sides import DEFAULTS, NAIVE_SIZE, SMALL_PAGE
from soar.detect.alert_store import BULK_BYTES
from soar.detect.execute import BATCH_HITS

if TYPE_CHECKING:
    from bench.detection import Load, Run

MB = 1024 * 1024
SIDES = {"soar": "soar", "naive": "one search per rule"}


def from_millis(millis: int) -> datetime:
    """A UTC time from epoch milliseconds (integers: no float rounding)."""
    seconds, rest = divmod(millis, 1000)
    return datetime.fromtimestamp(seconds, UTC) + timedelta(milliseconds=rest)


def loadavg() -> str:
    """The machine's 1, 5 and 15 minute load averages (Linux)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


class PythonPeak:
    """This process's peak of Python allocations (tracemalloc) while inside, over what it held on entry."""

    def __init__(self) -> None:
        self.growth = 0
        self._before = 0

    def __enter__(self) -> PythonPeak:
        tracemalloc.start()
        self._before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        return self

    def __exit__(self, *exc: object) -> None:
        self.growth = tracemalloc.get_traced_memory()[1] - self._before
        tracemalloc.stop()


def _runs(runs: list[Run], side: str, write: bool) -> list[Run]:
    return [r for r in runs if r.side == side and r.write == write]


def _median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.wall)[len(runs) // 2]


def _requests(kinds: Counter[str]) -> str:
    return ", ".join(f"{n} `{kind}`" for kind, n in sorted(kinds.items()))


def _cycle_rows(runs: list[Run]) -> list[str]:
    rows = [
        "| variant | side | best (s) | median (s) | requests (median run) |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for write in (False, True):
        for side, name in SIDES.items():
            mine = _runs(runs, side, write)
            walls = [r.wall for r in mine]
            variant = "search + write" if write else "search only"
            rows.append(
                f"| {variant} | {name} | {min(walls):.2f} | {statistics.median(walls):.2f} | "
                f"{_requests(_median_run(mine).requests)} |"
            )
    return rows


def ratios(runs: list[Run], write: bool) -> dict[str, Any]:
    """soar / baseline: of the medians, of the bests, and per round (the two sides of one round)."""
    soar, naive = _runs(runs, "soar", write), _runs(runs, "naive", write)
    pairs = list(zip(soar, naive, strict=True))
    return {
        "median": statistics.median(r.wall for r in soar) / statistics.median(r.wall for r in naive),
        "best": min(r.wall for r in soar) / min(r.wall for r in naive),
        "rounds": [s.wall / n.wall for s, n in pairs],
        # CPU of both processes does not count the time spent waiting for a core on a loaded machine.
        "cpu": statistics.median((s.cpu + s.engine_cpu) / (n.cpu + n.engine_cpu) for s, n in pairs),
    }


def _overhead_rows(runs: list[Run]) -> list[str]:
    rows = [
        "| variant | side | wall (s) | engine `took`, overlaps once (s) | wall - `took` | osmem on a CPU (s) | "
        "wall - on a CPU | this process's CPU (s) | CPU / wall | osmem's CPU (s) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for write in (False, True):
        for side, name in SIDES.items():
            r = _median_run(_runs(runs, side, write))
            variant = "search + write" if write else "search only"
            rows.append(
                f"| {variant} | {name} | {r.wall:.2f} | {r.busy:.2f} | {(r.wall - r.busy) / r.wall:.0%} | "
                f"{r.working:.2f} | {(r.wall - r.working) / r.wall:.1%} | "
                f"{r.cpu:.2f} | {r.cpu / r.wall:.1%} | {r.engine_cpu:.2f} |"
            )
    return rows


def _rule_facts(load: Load) -> str:
    text = "\n".join(str(rule["detection"]) for rule in load.rules)
    kinds = Counter(
        {
            "`1 of sel_*`": sum("1 of sel_*" in str(r["detection"]["condition"]) for r in load.rules),
            "`and not filter`": sum("not filter" in str(r["detection"]["condition"]) for r in load.rules),
            "`|contains`": text.count("|contains"),
            "`|startswith`": text.count("|startswith"),
            "`|endswith`": text.count("|endswith"),
            "`|re`": text.count("|re'"),
            "`|gte`": text.count("|gte"),
            "wildcard values": sum(
                "*" in str(value)
                for rule in load.rules
                for name, selection in rule["detection"].items()
                if name != "condition"
                for value in selection.values()
            ),
            "value lists": text.count(": ["),
        }
    )
    hits = sorted(load.hits.values())
    streamed = sum(1 for h in hits if h > DEFAULTS.page_size)
    return (
        f"{len(hits)} rules ({', '.join(f'{k} {v}' for k, v in kinds.items())}); {sum(hits):,} hits in all, "
        f"median {statistics.median(hits):.0f}, max {max(hits):,}, {hits.count(0)} rules without a hit, "
        f"{streamed} with more hits than soar's page size ({DEFAULTS.page_size}): streamed"
    )


# (run, measure, row label) of the memory table.
MEMORY_ROWS = [
    ("soar search + write", "python", "soar, search + write: peak of Python allocations (MB)"),
    ("soar search only", "python", "soar, search only: peak of Python allocations (MB)"),
    (
        "soar small pages search + write",
        "python",
        f"soar, page size {SMALL_PAGE}, search + write: peak of Python allocations (MB)",
    ),
    (
        "soar small pages search only",
        "python",
        f"soar, page size {SMALL_PAGE}, search only: peak of Python allocations (MB)",
    ),
    (
        "naive search + write",
        "python",
        "one search per rule, search + write: peak of Python allocations (MB)",
    ),
    ("naive search only", "python", "one search per rule, search only: peak of Python allocations (MB)"),
    ("soar search only", "engine", "osmem RSS growth, soar searching (MB)"),
    ("naive search only", "engine", "osmem RSS growth, one search per rule (MB)"),
    ("soar search + write", "engine", "osmem RSS growth, soar searching and writing (MB)"),
]


def _memory_rows(used: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    rows = ["| | N | 10N | 10N / N |", "| --- | ---: | ---: | ---: |"]
    small, big = used["N"], used["10N"]
    hits_n, hits_10n = small["soar search + write"]["hits"], big["soar search + write"]["hits"]
    rows.append(f"| hits | {hits_n:,} | {hits_10n:,} | {hits_10n / hits_n:.1f} |")
    for run, key, what in MEMORY_ROWS:
        a, b = small[run][key] / MB, big[run][key] / MB
        # RSS grows in steps of the Go heap: at N it may not have grown at all, and then there is no ratio.
        ratio = f"{b / a:.2f}" if a >= 0.05 else "no growth at N"
        rows.append(f"| {what} | {a:.1f} | {b:.1f} | {ratio} |")
    base = small["soar search only"]["engine_base"] / MB
    rows.append(f"| osmem RSS before soar's search-only run (MB) | {base:,.0f} | | |")
    return rows


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def markdown(
    load: Load,
    runs: list[Run],
    used: dict[str, dict[str, dict[str, Any]]],
    loads: tuple[str, str],
    max_hits: int,
) -> str:
    """The section."""
    search, write = ratios(runs, False), ratios(runs, True)
    cycle = _median_run(_runs(runs, "soar", True))
    events = ", ".join(f"{source} {n:,}" for source, n in load.events.items())
    out = [
        "## Detection: 100 rules over 50,000 events",
        "",
        f"Events: {sum(load.events.values()):,} of the default scenario (seeds 1337, then 7: {events}) through "
        f"soar's ingest into osmem 0.1.6 ({load.ingest_s:.0f} s). Rules: {_rule_facts(load)}. Generated over the "
        f"events' ECS fields by `bench/detection_rules.py`, compiled by soar; a candidate with more than "
        f"{max_hits} hits is drawn again. One window, {load.window.start:%Y-%m-%d %H:%M} to "
        f"{load.window.end:%Y-%m-%d %H:%M} UTC, holds every event. Load average (1, 5, 15 min) before the run "
        f"{loads[0]}, after it {loads[1]} (2 cores shared with other work).",
        "",
        "- **soar**: `soar.detect.execute.search_window`, the sweep's `detect.search_window` activity, once per rule "
        f"group (4 groups, run at once as a worker runs their sweeps): first pages by `_msearch` in batches, "
        f"point in time + `search_after` for the rest, page size {DEFAULTS.page_size}, concurrency "
        f"{DEFAULTS.concurrency}; alert documents built and written with `op_type: create` in bulks shared by "
        f"the group's rules (up to {BULK_BYTES // 2**20} MiB, `soar.detect.alert_store.AlertBulk`), the alerts index "
        "refreshed. Not included: compiling rules and reading checkpoints (`detect.load_group`), saving "
        "checkpoints, the hand-over, Temporal's scheduling. Search only: `soar.detect.execute.count_hits`, the "
        "same searches, no alert built.",
        f"- **one search per rule** (ElastAlert's way): the rules one after the other, one `_search` each with "
        f"`size` {NAIVE_SIZE:,} (ElastAlert's `max_query_size`) sorted by time; search + write: soar's own alert "
        "documents written by soar's own create-only bulk after each rule, in bulks of soar's page size "
        "(ElastAlert itself writes one request per alert), then the same refresh.",
        "",
        f"{_rounds_text(runs)} Each write run writes into a fresh alerts index (deleted after it); both sides "
        f"found the same hits for every rule, and wrote one alert per hit ({cycle.hits:,}).",
        "",
        *_cycle_rows(runs),
        "",
        f"soar / one search per rule, search only: {search['median']:.2f} (medians), {search['best']:.2f} (bests), "
        f"per round {', '.join(f'{r:.2f}' for r in search['rounds'])}; CPU of osmem and this process, median "
        f"of the rounds: {search['cpu']:.2f}.",
        f"Search + write: {write['median']:.2f} (medians), {write['best']:.2f} (bests), per round "
        f"{', '.join(f'{r:.2f}' for r in write['rounds'])}; CPU: {write['cpu']:.2f}. "
        f"Goal <= 0.7: {_verdict(write['median'] <= 0.7)}.",
        "",
        "Where the time goes (each side's median run). The engine's `took` intervals are placed at the end of "
        "each request and merged where requests overlap (`bench/detection_probe.py`). osmem on a CPU: the wall "
        "time during which osmem worked, seen from osmem (every 10 ms, its threads' time on a CPU from "
        "`/proc/<pid>/task/*/schedstat`; an interval counts when osmem ran for at least a tenth of it), so "
        "wall minus it is the time the engine sat waiting for the side it served. This process's CPU is "
        "soar's own work (with its client: JSON, alert documents, NDJSON), measured by `time.process_time` "
        "(less the sampler's own).",
        "",
        *_overhead_rows(runs),
        "",
        *overhead_text(cycle),
        "",
        f"Memory: {len(MEMORY_RULES)} Envoy rules, one per destination workload, together every Envoy event "
        "(`MEMORY_RULES`), first over the window's start up to the time of the "
        "tenth of their hits (N), then over the whole window (10N); peaks of Python allocations by `tracemalloc` "
        "(this process: soar or the baseline, its client and parsed responses), osmem's RSS sampled every 5 ms "
        "(growth over its RSS at the start of the run).",
        "",
        *_memory_rows(used),
        "",
        *memory_text(used),
        "",
        *why_text(runs, load),
        "",
    ]
    return "\n".join(out)


def _rounds_text(runs: list[Run]) -> str:
    rounds = len(_runs(runs, "soar", True))
    return (
        f"{rounds} rounds, soar first in odd rounds and second in even ones, search only then search + write."
    )


def overhead_text(cycle: Run) -> list[str]:
    """What soar's overhead is, both ways, with the goal."""
    took = (cycle.wall - cycle.busy) / cycle.wall
    idle = (cycle.wall - cycle.working) / cycle.wall
    cpu = cycle.cpu / cycle.wall
    return [
        f"soar's own overhead in its cycle (search + write): wall minus the engine's `took` is {took:.0%} of the "
        f"wall time, but osmem reports a `took` of about 1 ms for a bulk request that keeps it busy for "
        f"hundreds (its CPU: {cycle.engine_cpu:.1f} s), and a search's `took` leaves out fetching the hits' "
        f"sources: here that difference is mostly the engine's own work. Seen from the engine instead, osmem "
        f"sat waiting for soar {idle:.1%} of the wall time; soar's own CPU time is {cpu:.1%} of it. "
        f"Goal <= 10 %: {_verdict(idle <= 0.10)} by the time the engine waited, {_verdict(cpu <= 0.10)} by "
        f"soar's CPU time ({_verdict(took <= 0.10)} by wall minus `took`, which osmem's bulk `took` voids).",
    ]


def memory_text(used: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """What the memory figures say."""

    def growth(run: str) -> float:
        return float(used["10N"][run]["python"] / max(used["N"][run]["python"], 1))

    return [
        f"Ten times the hits. With soar's page size ({DEFAULTS.page_size}), a tenth of the hits is about "
        f"{used['N']['soar search + write']['hits'] // len(MEMORY_RULES):,} a rule on average: most rules' hits "
        "fit in their first page, so N measures soar filling its buffers, and its peak grows "
        f"{growth('soar search + write'):.2f}x writing, {growth('soar search only'):.2f}x searching. With pages "
        f"of {SMALL_PAGE}, every rule streams already at N: the peak grows "
        f"{growth('soar small pages search + write'):.2f}x writing and "
        f"{growth('soar small pages search only'):.2f}x searching. What soar holds is a batch of first pages "
        f"(at most {BATCH_HITS:,} hits), one page per stream ({DEFAULTS.concurrency} at once) and the alerts "
        "gathered for a bulk "
        f"({BULK_BYTES // 2**20} MiB, and the one being written): set by those bounds, not by the hits. One "
        f"search per rule's peak grows {growth('naive search + write'):.2f}x (all of a rule's hits at once). "
        "osmem is a garbage-collected Go process: its RSS grows with what it allocates between collections (the "
        "heap may reach twice the indexed events before one), so its growth follows the engine's work (each "
        "page of a stream is a search of the index), not hits held; while writing it also holds the new alerts.",
    ]


def why_text(runs: list[Run], load: Load) -> list[str]:
    """Where the cycle's time goes on this engine, from the run's own figures."""
    soar, naive = _median_run(_runs(runs, "soar", False)), _median_run(_runs(runs, "naive", False))
    soar_w, naive_w = _median_run(_runs(runs, "soar", True)), _median_run(_runs(runs, "naive", True))
    streamed = sum(1 for h in load.hits.values() if h > DEFAULTS.page_size)
    return [
        "Where an engine's time goes here: osmem answers a search by scanning the index, so the cost of a cycle is "
        f"one scan per rule, whoever sends it. Searching only, osmem worked {soar.engine_cpu:.1f} CPU-s for "
        f"soar and {naive.engine_cpu:.1f} for one search per rule: `_msearch` saves requests, not scans, and "
        f"each page after a rule's first is one more scan ({streamed} rules had more than one page). Writing, "
        f"the same {soar_w.hits:,} alerts cost osmem {soar_w.engine_cpu:.1f} and {naive_w.engine_cpu:.1f} CPU-s: "
        "the writes are the same requests on both sides, and they are most of the cycle. The rest of the wall "
        "time is waiting for a core (see the load averages). One search per index with a named clause per rule "
        "(`matched_queries` naming the rules of each hit) works on osmem, but it evaluates every name over the "
        "index: on 10 of these rules it took about twice their separate searches (measured apart from this "
        "run), so soar does not use it.",
    ]
