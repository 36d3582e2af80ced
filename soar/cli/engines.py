"""``soar engines up|down|status``: the embedded search engine and Temporal dev server."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from soar.cli.common import State, command, out_console, print_json_line
from soar.config import Settings
from soar.engines.embedded import EmbeddedSearch, EmbeddedTemporal

app = typer.Typer(help="Start, stop and inspect the embedded engines.", no_args_is_help=True)


def status_report(settings: Settings) -> dict[str, dict[str, Any]]:
    """Where each engine is and whether it runs: configured engines are reported, embedded ones checked."""
    search = EmbeddedSearch(settings)
    temporal = EmbeddedTemporal(settings)
    if settings.search.configured:
        search_info: dict[str, Any] = {
            "url": settings.search.urls[0],
            "kind": settings.search.flavour.value,
            "running": None,
            "embedded": False,
        }
    else:
        search_info = {
            "url": search.address,
            "kind": "osmem",
            "running": search.state() is not None,
            "embedded": True,
        }
    if settings.temporal.configured:
        temporal_info: dict[str, Any] = {
            "address": settings.temporal.address,
            "ui": None,
            "running": None,
            "embedded": False,
        }
    else:
        temporal_info = {
            "address": temporal.address,
            "ui": temporal.ui,
            "running": temporal.state() is not None,
            "embedded": True,
        }
    return {"search": search_info, "temporal": temporal_info}


def _print(report: dict[str, dict[str, Any]]) -> None:
    for name, info in report.items():
        where = info.get("url") or info.get("address")
        running = {True: "[green]running[/]", False: "[yellow]stopped[/]", None: "configured"}[
            info["running"]
        ]
        ui = f"  ui {info['ui']}" if info.get("ui") else ""
        out_console.print(f"{name:<9} {running:<22} {where}{ui}")


@app.command()
@command
async def up(
    json_out: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Start the embedded engines in the background (those not configured)."""
    settings = State.settings()
    if not settings.search.configured:
        await EmbeddedSearch(settings).start()
    if not settings.temporal.configured:
        await EmbeddedTemporal(settings).start()
    report = status_report(settings)
    print_json_line(report) if json_out else _print(report)


@app.command()
@command
async def down() -> None:
    """Stop the embedded engines."""
    settings = State.settings()
    for engine in (EmbeddedTemporal(settings), EmbeddedSearch(settings)):
        stopped = await engine.stop()
        out_console.print(f"{engine.name:<9} {'stopped' if stopped else 'was not running'}")


@app.command()
@command
def status(
    json_out: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Show where the engines are and whether they run."""
    report = status_report(State.settings())
    print_json_line(report) if json_out else _print(report)
