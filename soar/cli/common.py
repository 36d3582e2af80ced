"""What every command shares: settings loaded once, async entry, one-line errors."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec

import typer
from rich.console import Console

from soar.config import Settings, load_settings
from soar.errors import SoarError

P = ParamSpec("P")

# Results go to stdout; progress, tables for people and errors go to stderr, so stdout stays pipeable.
err_console = Console(stderr=True)
out_console = Console(highlight=False, soft_wrap=True)


class State:
    """Per-invocation state set by the root callback: the settings file to read."""

    config_file: Path | None = None
    _settings: Settings | None = None

    @classmethod
    def settings(cls) -> Settings:
        """The settings of this invocation, loaded on first use."""
        if cls._settings is None:
            cls._settings = load_settings(cls.config_file)
        return cls._settings


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error and return the exit to raise."""
    err_console.print(f"[red]error:[/red] {message}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def command(fn: Callable[P, Any]) -> Callable[P, None]:
    """Wrap a command: run coroutines, turn soar errors into one line on stderr and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            result = fn(*args, **kwargs)
            if asyncio.iscoroutine(result):
                asyncio.run(result)
        except SoarError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None

    return wrapper


def print_json_line(data: Any) -> None:
    """Print one compact JSON document on stdout (machine-readable output)."""
    import json

    sys.stdout.write(json.dumps(data, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()
