"""``soar demo``: the whole chain on embedded engines, each stage's duration printed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from soar.cli.common import State, command, err_console, out_console, print_json_line
from soar.cli.ingest import print_report, progress_bar
from soar.demo import run_demo
from soar.telemetry.ingest import ProgressFn


@command
async def demo(
    scenario: Annotated[str, typer.Option(help="The scenario to generate and ingest.")] = "default",
    seed: Annotated[int, typer.Option(help="Scenario seed.")] = 1337,
    rules: Annotated[Path, typer.Option(help="Rules to detect with (skipped when absent).")] = Path(
        "detections"
    ),
    json_out: Annotated[
        bool, typer.Option("--json", help="End with one JSON line summarising the run.")
    ] = False,
) -> None:
    """The whole chain on embedded engines: telemetry, detection, playbooks, approvals, the DORA report."""
    settings = State.settings()

    def on_stage(name: str, seconds: float) -> None:
        err_console.print(f"[green]✓[/] {name:<22} {seconds:7.2f} s", highlight=False)

    with progress_bar() as bar:

        def progress(total: int) -> ProgressFn:
            task = bar.add_task("ingesting scenario", total=total)
            return lambda n: bar.advance(task, n)

        result = await run_demo(
            settings, scenario=scenario, seed=seed, rules=_folder(rules), progress=progress, on_stage=on_stage
        )
    print_report(result.ingest)
    out_console.print(
        f"{result.events} events generated, {result.ingest.total_indexed} indexed, "
        f"{result.stories} attack stories (ground truth: {result.truth_file})"
    )
    if result.detection:
        out_console.print(
            f"detection: {result.detection['rules']} rules, {result.detection['windows']} windows, "
            f"{result.detection['alerts_created']} alerts created"
        )
    if result.response is not None:
        r = result.response
        out_console.print(
            f"response: {r.dispatch.completed} of {r.dispatch.started} playbooks completed, {r.incidents} incidents "
            f"({r.major} major), {r.applied} of {r.approved} approved containment actions applied (dry run: "
            f"{settings.data_dir / 'dry-run'})"
        )
        for report in r.reports:
            out_console.print(f"DORA {report['stage']} report of {report['incident']}: {report['path']}")
    if json_out:
        print_json_line(result.as_dict())


def _folder(path: Path) -> Path | None:
    return path if path.is_dir() else None
