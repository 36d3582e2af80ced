"""``soar ingest``: raw files of a source, or a generated scenario, into the search engine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from soar.cli.common import State, command, err_console, out_console, print_json_line
from soar.cli.telemetry import read_lines
from soar.engines.session import search_session
from soar.errors import InputError
from soar.telemetry.ingest import IngestReport
from soar.telemetry.loading import generate_scenario, ingest_files, ingest_scenario
from soar.telemetry.sources import Source


def progress_bar() -> Progress:
    """The progress bar long ingests show on stderr."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def print_report(report: IngestReport) -> None:
    """Counts per index as a table."""
    table = Table(show_edge=False)
    for column in ("index", "indexed", "duplicates", "dead-lettered"):
        table.add_column(column, justify="left" if column == "index" else "right")
    for name, c in sorted(report.indices.items()):
        table.add_row(name, str(c.indexed), str(c.duplicates), str(c.dead_lettered))
    out_console.print(table)


@command
async def ingest(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Raw files of --source, one record per line.")
    ] = None,
    source: Annotated[Source | None, typer.Option("--source", "-s", help="The source of FILES.")] = None,
    scenario: Annotated[
        str | None, typer.Option("--scenario", help="Generate and ingest a scenario.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Scenario seed.")] = 1337,
    json_out: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Normalise and bulk-index raw telemetry, or a generated scenario; print counts per index."""
    if (scenario is None) == (not files):
        raise InputError("give either FILES with --source, or --scenario NAME", field="arguments")
    if files and source is None:
        raise InputError("--source is required with FILES", field="--source")
    settings = State.settings()
    inputs = {str(p): read_lines(p) for p in files or []}
    generated = generate_scenario(scenario, seed) if scenario is not None else None
    total = sum(generated.counts().values()) if generated else sum(len(v) for v in inputs.values())
    async with search_session(settings) as client:
        with progress_bar() as bar:
            task = bar.add_task("ingesting", total=total)

            def advance(n: int) -> None:
                bar.advance(task, n)

            if generated is not None:
                report = await ingest_scenario(client, settings, generated, progress=advance)
            else:
                assert source is not None  # checked above
                report = await ingest_files(client, settings, source, inputs, progress=advance)
    print_json_line(report.as_dict()) if json_out else print_report(report)
