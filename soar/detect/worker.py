"""The detection engine's Temporal worker: the sweep workflow and its activities on one task queue."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from soar.detect.activities import DetectActivities
from soar.detect.routing import RoutingTable
from soar.detect.sweep import SweepWorkflow
from soar.engines.search import SearchClient


def detect_worker(
    client: Client,
    search: SearchClient,
    *,
    task_queue: str,
    routing: RoutingTable | None = None,
    cache_dir: Path | None = None,
) -> Worker:
    """A worker running sweeps; start more of them (any host) for more throughput.

    Args:
        client: The Temporal client (with soar's pydantic data converter).
        search: The search engine the activities read and write.
        task_queue: The queue sweeps are started on.
        routing: Which alerts start which playbook; empty hands nothing over.
        cache_dir: Compiled-rule cache directory.

    Returns:
        The worker; run it with ``async with worker:`` or ``await worker.run()``.
    """
    activities = DetectActivities(search, client, routing, cache_dir)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[SweepWorkflow],
        activities=activities.all(),
    )
