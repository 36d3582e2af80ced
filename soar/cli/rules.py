"""``soar rules``: validate, convert, match, test and lock Sigma rules."""

from __future__ import annotations

import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from soar.cli.common import State, command, err_console, out_console, print_json_line
from soar.detect.exception_files import describe, load_exceptions, unknown_rules
from soar.detect.ruleset import detect_items
from soar.engines.session import search_session
from soar.errors import InputError, RuleError
from soar.rules import compile_rules, default_cache_dir, load_rules, validate_rules
from soar.rules.exports import EXTENSIONS, ExportFormat, export_rules
from soar.rules.lock import LOCK_FILE, lock_entries, read_lock, write_lock
from soar.rules.match import (
    correlation_fires,
    correlation_sources,
    match_rule,
    read_events,
    read_mixed_events,
)
from soar.rules.ruletest import RuleTestReport, run_rule_tests
from soar.telemetry.sources import Source

app = typer.Typer(
    help="Detections as code: validate, convert, match and test Sigma rules.", no_args_is_help=True
)

Paths = Annotated[list[Path], typer.Argument(help="Rule files and folders (searched recursively).")]
DETECTIONS = Path("detections")


def _say(text: str) -> None:
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command()
@command
def validate(
    paths: Paths,
    metadata: Annotated[
        bool, typer.Option("--metadata/--no-metadata", help="Require id, title, level, author, tags ...")
    ] = True,
) -> None:
    """Print one line per problem; the good rules still load. Exit 1 if any rule is bad."""
    loaded = load_rules(paths)
    errors: list[InputError] = [*loaded.errors, *validate_rules(loaded.rules, require_metadata=metadata)]
    compiled = compile_rules(paths)
    errors += compiled.errors
    _, bad_options = detect_items([*compiled.rules, *compiled.correlations], State.settings().detect.rules)
    errors += bad_options  # the soar: attribute (sweep options, threshold / new_terms / flatline)
    exceptions = load_exceptions(State.settings().detect.exceptions_dir(paths))
    known = {r.rule_id for r in compiled.rules} | {r.rule_id for r in compiled.correlations}
    known |= {r.name for r in compiled.rules if r.name}
    errors += [*exceptions.errors, *unknown_rules(exceptions, known)]
    lines = list(dict.fromkeys(str(e) for e in errors))  # pySigma and the compiler may agree on one
    for line in lines:
        sys.stdout.write(line + "\n")
    good = len(compiled.rules) + len(compiled.correlations)
    _say(f"{good} rule(s) compiled, {len(exceptions.files)} exception(s) read, {len(lines)} problem(s)")
    if lines:
        raise typer.Exit(1)


@app.command()
@command
def convert(
    paths: Paths,
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="Target format.")] = ExportFormat.DSL,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="One file per rule here.")] = None,
    skip_unsupported: Annotated[
        bool, typer.Option("--skip-unsupported", help="Report rules that fail, but exit 0.")
    ] = False,
) -> None:
    """Convert rules to Query DSL, Lucene, ES|QL, EQL or Kibana detection rules (NDJSON)."""
    result = export_rules(paths, fmt)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
    for item in result.exported:
        if output is not None:
            (output / f"{item.rule_id}{EXTENSIONS[fmt]}").write_text(item.text + "\n", "utf-8")
        elif fmt in (ExportFormat.DSL, ExportFormat.KIBANA):
            sys.stdout.write(
                " ".join(item.text.split()) + "\n" if fmt is ExportFormat.DSL else item.text + "\n"
            )
        else:
            print_json_line({"rule_id": item.rule_id, "query": item.text})
    for error in result.errors:
        _say(f"{'skipped' if skip_unsupported else 'error'}: {error}")
    _say(f"{len(result.exported)} rule(s) converted to {fmt.value}, {len(result.errors)} failed")
    if result.errors and not skip_unsupported:
        raise typer.Exit(1)


@app.command()
@command
async def match(
    rule: Annotated[Path, typer.Argument(help="The rule file.")],
    events: Annotated[Path, typer.Argument(help="Events, one JSON object per line.")],
    source: Annotated[
        Source | None, typer.Option("--source", "-s", help="Raw records of SRC (else ECS documents).")
    ] = None,
) -> None:
    """Index the events into a fresh index of the rule's source and print the matching line numbers."""
    compiled = compile_rules([rule])
    if compiled.errors:
        raise compiled.errors[0]
    if not compiled.rules and not compiled.correlations:
        raise RuleError("no rule in the file", file=str(rule))
    for one in compiled.rules:
        if source is not None and source is not one.source:
            raise InputError(
                f"the rule runs on {one.source.value} events, not {source.value}", field="--source"
            )
    async with search_session(State.settings()) as client:
        if compiled.correlations:
            for correlation in compiled.correlations:
                by_source = read_mixed_events(events, correlation_sources(correlation))
                fired = await correlation_fires(client, correlation, by_source)
                print_json_line({"rule": correlation.rule_id, "fires": fired})
            return
        documents = read_events(events, source)
        for one in compiled.rules:
            print_json_line({"rule": one.rule_id, "matches": await match_rule(client, one, documents)})


@app.command("test")
@command
async def run_tests(
    paths: Annotated[list[Path] | None, typer.Argument(help="Rules (default: detections/).")] = None,
    fixtures: Annotated[Path, typer.Option(help="Where the test events are.")] = Path("fixtures/detections"),
    rules_root: Annotated[Path, typer.Option(help="Rule paths are relative to this.")] = DETECTIONS,
    lock: Annotated[Path | None, typer.Option(help=f"Lock file (default: RULES_ROOT/{LOCK_FILE}).")] = None,
) -> None:
    """Run every rule's positive and negative events through the engine; print a pass/fail table."""
    settings = State.settings()
    entries = read_lock(lock or rules_root / LOCK_FILE)
    async with search_session(settings) as client:
        report = await run_rule_tests(
            client,
            paths or [rules_root],
            rules_root=rules_root,
            fixtures_root=fixtures,
            lock=entries,
            cache_dir=default_cache_dir(settings.data_dir),
        )
    _print_report(report)
    if not report.passed:
        raise typer.Exit(1)


def _print_report(report: RuleTestReport) -> None:
    table = Table(show_edge=False)
    for column in ("result", "rule", "positive", "negative", "lock"):
        table.add_column(column)
    for r in report.results:
        mark = "[green]pass[/green]" if r.passed else "[red]FAIL[/red]"
        table.add_row(mark, f"{r.title} ({r.rule_id})", r.positive, r.negative, r.lock.value)
    out_console.print(table)
    for r in report.results:
        for problem in r.problems:
            _say(f"{r.path}: {r.rule_id}: {problem}")
    for error in report.compile_errors:
        _say(f"error: {error}")
    failed = sum(not r.passed for r in report.results) + len(report.compile_errors)
    _say(f"{len(report.results)} rule(s) tested, {failed} failed")


@app.command("lock")
@command
def lock_rules(
    paths: Annotated[list[Path] | None, typer.Argument(help="Rules (default: detections/).")] = None,
    lock: Annotated[Path, typer.Option(help="The lock file.")] = DETECTIONS / LOCK_FILE,
) -> None:
    """Rewrite the lock file with the content hash and version of every rule that compiles."""
    compiled = compile_rules(paths or [DETECTIONS])
    for error in compiled.errors:
        _say(f"error: {error}")
    entries = lock_entries([*compiled.rules, *compiled.correlations])
    write_lock(lock, entries)
    _say(f"{lock}: {len(entries)} rule(s) locked, {len(compiled.errors)} failed to compile")
    if compiled.errors:
        raise typer.Exit(1)


@app.command("exceptions")
@command
def list_exceptions(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="Exception file or folder (default: detect.exceptions, else detections/exceptions)."
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per exception.")] = False,
    expired: Annotated[bool, typer.Option("--expired", help="Only the expired ones.")] = False,
) -> None:
    """List rule exceptions with owner, reason, expiry and status; exit 1 if a file is bad."""
    folder = path or State.settings().detect.exceptions_dir([DETECTIONS])
    loaded = load_exceptions(folder)
    today = datetime.now(UTC).date()
    rows = [describe(f, today) for f in loaded.files]
    if expired:
        rows = [r for r in rows if r["status"] == "expired"]
    if json_out:
        for row in rows:
            print_json_line(row)
    else:
        _print_exceptions(rows)
    for error in loaded.errors:
        _say(f"error: {error}")
    by_status = {s: sum(r["status"] == s for r in rows) for s in ("active", "expiring", "expired")}
    _say(
        f"{len(rows)} exception(s) in {folder}: {by_status['active']} active, "
        f"{by_status['expiring']} expiring within 14 days, {by_status['expired']} expired; "
        f"{len(loaded.errors)} bad file(s)"
    )
    if loaded.errors:
        raise typer.Exit(1)


def _print_exceptions(rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    table = Table(show_edge=False)
    table.add_column("id", overflow="fold")
    table.add_column("rule", overflow="fold", max_width=36)
    table.add_column("owner", overflow="fold")
    table.add_column("expires", no_wrap=True, min_width=10)
    table.add_column("status", no_wrap=True, min_width=20)  # "expires in 14 day(s)" on one line
    table.add_column("reason", ratio=1, min_width=12)
    marks = {"active": "[green]active[/green]", "expired": "[red]expired[/red]"}
    for row in rows:
        status = marks.get(str(row["status"]), f"[yellow]expires in {row['days_left']} day(s)[/yellow]")
        reason = textwrap.shorten(str(row["reason"]), 120)  # in full with --json
        table.add_row(*(str(row[k]) for k in ("id", "rule", "owner", "expires")), status, reason)
    out_console.print(table)
