"""``soar telemetry normalize``: raw records of a source to ECS NDJSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from soar.cli.common import command, err_console
from soar.errors import InputError
from soar.telemetry.normalise import DeadLetter, normalise_lines, normaliser_for
from soar.telemetry.sources import Source

app = typer.Typer(help="Normalise raw telemetry to ECS.", no_args_is_help=True)


def read_lines(path: Path) -> list[str]:
    """The lines of a file (``-`` for standard input), with a one-line error when unreadable."""
    if str(path) == "-":
        return sys.stdin.read().splitlines()
    try:
        return path.read_text("utf-8", errors="surrogateescape").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None


@app.command()
@command
def normalize(
    files: Annotated[list[Path], typer.Argument(help="Raw files, one record per line ('-' for stdin).")],
    source: Annotated[Source, typer.Option("--source", "-s", help="The source the records come from.")],
) -> None:
    """Print one ECS document per good record on stdout; report each bad record on stderr; exit 1 if any."""
    normaliser_for(source)
    bad = 0
    out = sys.stdout
    for path in files:
        for item in normalise_lines(source, read_lines(path), file=str(path)):
            if isinstance(item, DeadLetter):
                bad += 1
                err_console.print(
                    f"{path}:{item.line}: {item.error}", markup=False, highlight=False, soft_wrap=True
                )
            else:
                out.write(json.dumps(item.document, separators=(",", ":"), ensure_ascii=False) + "\n")
    out.flush()
    if bad:
        err_console.print(f"{bad} bad record(s)", markup=False)
        raise typer.Exit(1)
