"""``soar detect run|schedule|pause|resume|evaluate``: the detection engine on Temporal (``soar worker`` runs it)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from temporalio.client import Client

from soar.cli.common import State, command, err_console, out_console, print_json_line
from soar.cli.worker import run_worker
from soar.config import Settings
from soar.detect.evaluate import evaluate as evaluate_alerts
from soar.detect.run import RunSummary, rule_groups, run_once
from soar.detect.schedules import group_schedule, set_paused, upsert_schedules
from soar.detect.settings import parse_duration
from soar.engines.session import search_session, temporal_session
from soar.errors import InputError, ScenarioError
from soar.heap import freeze_startup_heap
from soar.telemetry.scenario import generate
from soar.worker import load_response_config

app = typer.Typer(
    help="Run the detection rules against the telemetry indices and write alerts.", no_args_is_help=True
)

RulesOption = Annotated[
    list[Path] | None, typer.Option("--rules", help="Rule files or folders (default: detections/).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on the last line.")]


def _paths(rules: list[Path] | None) -> list[Path]:
    return rules or [Path("detections")]


def _print_summary(summary: RunSummary) -> None:
    table = Table(
        "group",
        "rules",
        "windows",
        "hits",
        "created",
        "duplicates",
        "suppressed",
        "gaps filled",
        "capped",
        "handed over",
    )
    for s in summary.sweeps:
        table.add_row(
            s.group_id,
            *(str(v) for v in (s.rules, s.windows, s.hits, s.alerts_created, s.duplicates_skipped)),
            str(s.suppressed),
            str(s.gaps_filled),
            str(len(s.capped)),
            str(s.handed_over),
        )
    err_console.print(table)
    for error in summary.rule_errors:
        err_console.print(f"[yellow]skipped:[/] {error}", highlight=False)
    noise = summary.noise()
    if noise["exceptions_active"]:
        err_console.print(f"exceptions in force: {len(noise['exceptions_active'])}", highlight=False)
    if noise["exceptions_expired"]:
        expired = ", ".join(noise["exceptions_expired"])
        err_console.print(f"[yellow]expired exceptions (no longer applied):[/] {expired}", highlight=False)
    for error in noise["exception_errors"]:
        err_console.print(f"[yellow]exception skipped:[/] {error}", highlight=False)


@app.command()
@command
async def run(
    once: Annotated[bool, typer.Option("--once", help="One sweep of every rule group, then exit.")] = False,
    rules: RulesOption = None,
    interval: Annotated[
        str | None,
        typer.Option(
            help="Sweep interval of the schedules, without --once (default: detect.rules.interval)."
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Sweep every rule group once (--once), or schedule the sweeps and run ``soar worker`` until stopped."""
    settings = State.settings()
    async with search_session(settings) as search, temporal_session(settings) as temporal:
        if once:
            routing = load_response_config(settings).response.routing
            freeze_startup_heap()
            summary = await run_once(search, temporal, settings, _paths(rules), routing=routing)
            _print_summary(summary)
            if json_out:
                print_json_line(summary.totals())
            return
        await _schedule(temporal, settings, _paths(rules), interval)
        await run_worker(settings, search, temporal)


async def _schedule(
    temporal: Client, settings: Settings, paths: list[Path], interval: str | None
) -> list[tuple[str, str]]:
    every = settings.detect.rules.interval if interval is None else _duration(interval, "--interval")
    groups, _ = rule_groups(paths, settings)
    schedules = {g: group_schedule(g, r, paths, settings, settings.detect, every) for g, r in groups.items()}
    return await upsert_schedules(temporal, schedules)


def _duration(value: str, option: str) -> timedelta:
    try:
        parsed = parse_duration(value)
    except ValueError as exc:
        raise InputError(str(exc), field=option) from None
    if not isinstance(parsed, timedelta) or parsed <= timedelta(0):
        raise InputError(f"not a positive duration: {value!r}", field=option)
    return parsed


@app.command()
@command
async def schedule(
    rules: RulesOption = None,
    interval: Annotated[
        str | None, typer.Option(help="How often each group is swept (default: detect.rules.interval).")
    ] = None,
) -> None:
    """Create or update one Temporal Schedule per rule group (overlaps skipped, missed runs caught up)."""
    settings = State.settings()
    async with temporal_session(settings) as temporal:
        for sid, what in await _schedule(temporal, settings, _paths(rules), interval):
            out_console.print(f"{what:<8} {sid}")


@app.command()
@command
async def pause(group: Annotated[str, typer.Argument(help="Rule group, e.g. okta.")]) -> None:
    """Pause a rule group's schedule."""
    async with temporal_session(State.settings()) as temporal:
        await set_paused(temporal, group, True)
    out_console.print(f"paused {group}")


@app.command()
@command
async def resume(group: Annotated[str, typer.Argument(help="Rule group, e.g. okta.")]) -> None:
    """Resume a rule group's schedule."""
    async with temporal_session(State.settings()) as temporal:
        await set_paused(temporal, group, False)
    out_console.print(f"resumed {group}")


@app.command()
@command
async def evaluate(
    scenario: Annotated[str, typer.Option(help="The ingested scenario.")] = "default",
    seed: Annotated[int, typer.Option(help="Its seed.")] = 1337,
    json_out: JsonOption = False,
) -> None:
    """Alerts against the ground truth of an ingested scenario: recall per story, benign alerts."""
    settings = State.settings()
    truth = settings.data_dir / "scenarios" / f"{scenario}-{seed}.json"
    try:
        start = datetime.fromisoformat(json.loads(truth.read_text("utf-8"))["start"])
    except (OSError, ValueError, KeyError):
        raise ScenarioError(
            f"{truth}: no ground truth; ingest it first with soar ingest --scenario {scenario}"
        ) from None
    generated = generate(scenario, seed=seed, start=start)
    async with search_session(settings) as search:
        result = await evaluate_alerts(search, settings.namespace, generated)
    table = Table("story", "expected events", "alerted events", "recall", "rules")
    for s in result.stories:
        table.add_row(
            s.story, str(s.expected_events), str(s.alerted_events), f"{s.recall:.0%}", ", ".join(s.rules)
        )
    (err_console if json_out else out_console).print(table)
    err_console.print(
        f"alerts {result.alerts}; on benign traffic {result.benign_alerts} "
        f"(+{result.benign_building_block_alerts} building blocks)"
    )
    if json_out:
        print_json_line(result.as_dict())
