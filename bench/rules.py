"""Rule compilation: soar's Query DSL compiler vs sigma-cli's Lucene conversion of all SigmaHQ rules, same run.

Sides, measured in one run on a private copy of ``../shared/corpora/sigmahq/rules`` (3,141 rules):

- sigma-cli: ``sigma convert -t lucene --without-pipeline -s <dir>`` as a subprocess (wall time,
  interpreter start-up included): load every rule, convert every one to Lucene.
- soar, cold: ``compile_rules`` with an empty cache: load every rule; the rules whose logsource maps to
  a soar source (Kubernetes, Okta, webserver, proxy ...) go through the pipeline and the Query DSL
  backend, the others (Windows, Linux, cloud ...) stop at routing with a one-line error (best and
  median of 3, each into an empty cache; warm and incremental runs use the last one's cache).
- soar, all through the backend: every rule forced onto one source (Envoy) so that each one is
  converted, like sigma-cli does: the fair comparison of conversion work.
- soar, warm: the same compile again with the cache full, nothing changed (best and median of 5).
  The incremental goal is the median of the incremental runs over the median of the cold runs.
- soar, incremental: one rule file changed (its title), compiled again against the full cache
  (best and median of 5, a different edit each time; runs half a second apart, so that a burst of
  another process's work spoils one run, not all). Both are timed in-process, with no interpreter
  start-up: what is measured is the cache (folder check or walk, ``stat`` per file, manifest load,
  outcomes rebuilt, the changed file compiled, the manifest written).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sigma.rule import SigmaLogSource, SigmaRule

from soar.rules.backend import QueryDslBackend
from soar.rules.compile import compile_rules
from soar.rules.loader import load_rules

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "sigmahq" / "rules"
SIGMA = Path(sys.executable).parent / "sigma"
RUNS = 5  # warm and incremental runs
COLDS = 3  # cold runs, each into an empty cache
PAUSE = 0.5  # seconds between two warm or incremental runs


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def _sigma_cli(rules: Path) -> tuple[float, int]:
    cmd = [str(SIGMA), "convert", "-t", "lucene", "--without-pipeline", "-s", "-o", "/dev/null", str(rules)]
    seconds, done = _timed(lambda: subprocess.run(cmd, capture_output=True, text=True, check=False))
    if done.returncode != 0:
        raise RuntimeError(f"sigma-cli failed: {done.stderr[-500:]}")
    return seconds, done.returncode


def _forced(rules: Path) -> tuple[int, int]:
    backend = QueryDslBackend()
    loaded = load_rules([rules])
    ok = failed = 0
    for item in loaded.rules:
        if not isinstance(item.rule, SigmaRule):
            continue
        item.rule.logsource = SigmaLogSource(product="envoy")
        try:
            backend.rule_query(item.rule)
            ok += 1
        except Exception:  # noqa: BLE001 - counting what the backend refuses, whatever the reason
            failed += 1
    return ok, failed + len(loaded.errors)


def _one_rule(rules: Path) -> Path:
    return next(p for p in sorted(rules.rglob("*.yml")) if "kubernetes" in p.parts)


def _warm(rules: Path, cache: Path) -> float:
    time.sleep(PAUSE)  # apart from the last run: a burst of another process's work spoils one run, not all
    return float(_timed(lambda: compile_rules([rules], cache_dir=cache))[0])


def _cold(rules: Path, cache: Path) -> tuple[float, Any]:
    return _timed(lambda: compile_rules([rules], cache_dir=cache))


def _incremental(rules: Path, cache: Path, run: int) -> tuple[float, Any]:
    time.sleep(PAUSE)  # as in _warm
    changed = _one_rule(rules)
    text = changed.read_text("utf-8").replace("title: ", f"title: (changed {run}) ", 1)
    changed.write_text(text, "utf-8")
    return _timed(lambda: compile_rules([rules], cache_dir=cache))


def run() -> str:
    """Run every side in the same process and return the Markdown section."""
    if not CORPUS.is_dir():
        return "## Rules: compilation\n\nSkipped: ../shared/corpora/sigmahq/rules is not present.\n"
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules"
        shutil.copytree(CORPUS, rules)
        count = sum(1 for _ in rules.rglob("*.yml"))
        cli, _ = _sigma_cli(rules)
        colds = [_cold(rules, Path(tmp) / f"cache{n}") for n in range(COLDS)]
        cache = Path(tmp) / f"cache{COLDS - 1}"  # warm and incremental runs use the last cold run's cache
        cold, first = min(colds, key=lambda r: r[0])
        cold_median = statistics.median(seconds for seconds, _ in colds)
        forced, (forced_ok, forced_failed) = _timed(lambda: _forced(rules))
        warms = [_warm(rules, cache) for _ in range(RUNS)]
        incrementals = [_incremental(rules, cache, n) for n in range(RUNS)]
    warm, incremental = min(warms), min(seconds for seconds, _ in incrementals)
    again = incrementals[0][1]
    warm_median = statistics.median(warms)
    incremental_median = statistics.median(seconds for seconds, _ in incrementals)
    routed = len(first.rules) + len(first.correlations)
    rows = [
        (
            "sigma-cli `convert -t lucene --without-pipeline -s` (subprocess)",
            cli,
            f"{count:,} rules converted to Lucene",
        ),
        (
            f"soar `compile_rules`, cold cache (best of {COLDS})",
            cold,
            f"{routed:,} compiled, {len(first.errors):,} refused (mostly no soar source); median {cold_median:.2f} s",
        ),
        (
            "soar, every rule forced through the DSL backend",
            forced,
            f"{forced_ok:,} compiled, {forced_failed:,} refused",
        ),
        (
            f"soar `compile_rules`, warm cache, nothing changed (best of {RUNS})",
            warm,
            f"from the cache; median {warm_median * 1000:.1f} ms",
        ),
        (
            f"soar `compile_rules`, one rule changed (best of {RUNS})",
            incremental,
            f"{again.recompiled:,} rule(s) recompiled; median {incremental_median * 1000:.1f} ms",
        ),
    ]
    out = [
        "## Rules: compilation of the SigmaHQ corpus",
        "",
        f"{count:,} rule files of `../shared/corpora/sigmahq/rules`, one core, all sides in this run.",
        "soar cold reads and compiles every file; warm and incremental runs `stat` every file and read "
        "only the changed one; sigma-cli's time includes its start-up.",
        "",
        "| side | time (s) | vs sigma-cli | what it did |",
        "| --- | ---: | ---: | --- |",
    ]
    out += [f"| {name} | {secs:.3f} | {secs / cli:.2%} | {what} |" for name, secs, what in rows]
    out += [
        "",
        f"Goals: cold compile at most one third of sigma-cli's time: {cold / cli:.1%} "
        f"(forced through the backend: {forced / cli:.1%}); incremental rebuild under 1 % of the full "
        f"(cold) time: {incremental_median / cold_median:.2%} (median of {RUNS} incremental runs over median of "
        f"{COLDS} cold runs; best over best: {incremental / cold:.2%}).",
        "",
    ]
    return "\n".join(out)
