"""``soar worker``: run detection sweeps, playbooks and activities until stopped (SIGINT or SIGTERM)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from temporalio.client import Client

from soar.cli.common import State, command, err_console
from soar.config import Settings
from soar.engines.search import SearchClient
from soar.engines.session import search_session, temporal_session
from soar.heap import freeze_startup_heap
from soar.worker import soar_worker


@command
async def worker(
    queue: Annotated[str | None, typer.Option(help="Task queue (default: temporal.task_queue).")] = None,
) -> None:
    """Run a worker: sweeps, triage, containment and incidents. Start more of them for more throughput."""
    settings = State.settings()
    async with search_session(settings) as search, temporal_session(settings) as temporal:
        await run_worker(settings, search, temporal, queue)


async def run_worker(
    settings: Settings, search: SearchClient, temporal: Client, queue: str | None = None
) -> None:
    """Run the soar worker until SIGINT or SIGTERM, then stop it gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    freeze_startup_heap()
    async with soar_worker(settings, search, temporal, task_queue=queue) as running, running:
        err_console.print(f"worker on task queue {running.task_queue}; Ctrl-C or SIGTERM stops it gracefully")
        await stop.wait()
        err_console.print("stopping: finishing the activities in flight")
    err_console.print("worker stopped")
