"""The root ``soar`` command: registers each command group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from soar.cli import alerts, audit, demo, detect, dora, engines, incidents, ingest, rules, telemetry, worker
from soar.cli.common import State

app = typer.Typer(
    name="soar",
    help="Detections-as-code and auditable incident response, with DORA reporting built in.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(engines.app, name="engines")
app.add_typer(telemetry.app, name="telemetry")
app.add_typer(dora.app, name="dora")
app.add_typer(rules.app, name="rules")
app.add_typer(detect.app, name="detect")
app.add_typer(alerts.app, name="alerts")
app.add_typer(audit.app, name="audit")
app.add_typer(incidents.app, name="incidents")
app.command("ingest")(ingest.ingest)
app.command("demo")(demo.demo)
app.command("worker")(worker.worker)


@app.callback()
def root(
    config: Annotated[
        Path | None, typer.Option("--config", help="Settings file (default: ./soar.toml if present).")
    ] = None,
) -> None:
    """Detections-as-code and auditable incident response, with DORA reporting built in."""
    State.config_file = config
    State._settings = None


def main() -> None:
    """Console-script entry point."""
    app()
