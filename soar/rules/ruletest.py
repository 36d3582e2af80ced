"""Rule tests: each rule's positive and negative events run through the real engine, plus the lock check.

Layout: the rule ``<rules root>/<dir>/<name>.yml`` has its events in
``<fixtures root>/<dir>/<name>.positive.jsonl`` and ``.negative.jsonl``, raw records of the rule's
source, one per line (normalised before indexing). Every positive line must match and no negative
line may; for a correlation, the positive file as a whole must fire it and the negative file must
not. A file holding a correlation is tested as that correlation (its other rules are its parts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from soar.engines.search import SearchClient
from soar.errors import SoarError
from soar.rules.compile import compile_rules
from soar.rules.lock import FAILING, AnyCompiled, LockEntry, LockStatus, lock_problem, lock_status
from soar.rules.match import (
    Event,
    correlation_fires,
    correlation_sources,
    match_rule,
    read_events,
    read_mixed_events,
)
from soar.rules.models import CompiledCorrelation, CompileResult
from soar.telemetry.sources import Source

POSITIVE = ".positive.jsonl"
NEGATIVE = ".negative.jsonl"


@dataclass
class RuleTestResult:
    """The outcome of one rule's tests; ``problems`` is empty when it passed."""

    rule_id: str
    title: str
    path: str
    positive: str = "-"
    negative: str = "-"
    lock: LockStatus = LockStatus.UNCHECKED
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return not self.problems


@dataclass
class RuleTestReport:
    """Every rule's result, and the rules that did not even compile."""

    results: list[RuleTestResult] = field(default_factory=list)
    compile_errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every rule compiled and passed."""
        return not self.compile_errors and all(r.passed for r in self.results)


def fixture_paths(rule_path: Path, rules_root: Path, fixtures_root: Path) -> tuple[Path, Path]:
    """The positive and negative event files of a rule file."""
    try:
        relative = rule_path.resolve().relative_to(rules_root.resolve())
    except ValueError:
        relative = Path(rule_path.name)
    stem = relative.with_suffix("")
    return fixtures_root / f"{stem}{POSITIVE}", fixtures_root / f"{stem}{NEGATIVE}"


def tested_rules(compiled: CompileResult) -> list[AnyCompiled]:
    """The rules to test: every correlation, and every rule not in a file holding a correlation."""
    correlated = {c.path for c in compiled.correlations}
    rules: list[AnyCompiled] = [r for r in compiled.rules if r.path not in correlated]
    return sorted([*rules, *compiled.correlations], key=lambda r: (r.path, r.rule_id))


async def run_rule_tests(
    client: SearchClient,
    paths: Iterable[str | Path],
    *,
    rules_root: Path,
    fixtures_root: Path,
    lock: dict[str, LockEntry] | None,
    cache_dir: Path | None = None,
) -> RuleTestReport:
    """Compile the rules and run each one's positive and negative events in the engine.

    Args:
        client: The search engine the events are indexed into (fresh indices, deleted after).
        paths: Rule files and folders.
        rules_root: The folder rule paths are taken relative to (``detections``).
        fixtures_root: Where the events live (``fixtures/detections``).
        lock: The lock file's entries (None: no lock file, the lock check is skipped).
        cache_dir: The compile cache, if any.

    Returns:
        One result per rule and one line per rule that did not compile.
    """
    compiled = compile_rules(paths, cache_dir=cache_dir)
    report = RuleTestReport(compile_errors=[str(e) for e in compiled.errors])
    for rule in tested_rules(compiled):
        result = RuleTestResult(rule.rule_id, rule.title, rule.path)
        result.lock = lock_status(lock, rule)
        if result.lock in FAILING:
            result.problems.append(f"lock: {lock_problem(result.lock)}")
        positive, negative = fixture_paths(Path(rule.path), rules_root, fixtures_root)
        try:
            result.positive = await _run_file(client, rule, positive, expect_match=True)
            result.negative = await _run_file(client, rule, negative, expect_match=False)
        except SoarError as exc:
            result.problems.append(str(exc))
        result.problems += [f"{kind}: {text}" for kind, text in _failures(result)]
        report.results.append(result)
    return report


def _failures(result: RuleTestResult) -> list[tuple[str, str]]:
    return [
        (kind, text)
        for kind, text in (("positive", result.positive), ("negative", result.negative))
        if text.startswith("FAIL")
    ]


def _events(rule: AnyCompiled, path: Path) -> list[Event] | dict[Source, list[Event]] | str:
    if not path.is_file():
        return f"FAIL: no test events ({path})"
    if isinstance(rule, CompiledCorrelation):
        by_source = read_mixed_events(path, correlation_sources(rule))
        return by_source if any(by_source.values()) else f"FAIL: {path} holds no events"
    events = read_events(path, rule.source)
    return events or f"FAIL: {path} holds no events"


async def _run_file(client: SearchClient, rule: AnyCompiled, path: Path, *, expect_match: bool) -> str:
    events = _events(rule, path)
    if isinstance(events, str):
        return events
    if isinstance(rule, CompiledCorrelation):
        assert isinstance(events, dict)  # _events reads a correlation's events by source
        fired = await correlation_fires(client, rule, events)
        count = sum(len(found) for found in events.values())
        if fired == expect_match:
            return f"pass ({count} events {'fire' if fired else 'do not fire'})"
        return f"FAIL: the events {'do not fire' if expect_match else 'fire'} the correlation"
    assert isinstance(events, list)
    matched = set(await match_rule(client, rule, events))
    lines = [line for line, _ in events]
    wrong = [n for n in lines if (n in matched) != expect_match]
    if not wrong:
        return f"pass ({len(lines)}/{len(lines)})"
    verb = "did not match" if expect_match else "matched"
    return f"FAIL: line(s) {', '.join(map(str, wrong))} {verb}"
