"""The soar worker: detection sweeps, every playbook and every activity, on one task queue.

Start as many as the load needs, on any hosts: they share the queue. Each worker builds its clients once
(search engine, Temporal, connectors) from the settings it is given and hands them to the activities.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from playbooks.containment import ContainmentWorkflow
from playbooks.incident import IncidentWorkflow
from playbooks.triage import TriageWorkflow
from soar.actions.containment import ContainmentActivities
from soar.actions.incident import IncidentActivities
from soar.actions.notify import NotifyActivities
from soar.actions.triage import TriageActivities
from soar.audit.activities import AuditActivities
from soar.config import Settings
from soar.connectors.responders import Responders
from soar.detect.activities import DetectActivities
from soar.detect.sweep import SweepWorkflow
from soar.engines.search import SearchClient
from soar.response.catalogue import Catalogue, load_catalogue
from soar.response.policy import ResponseFile, load_response_file
from soar.rules.compile import default_cache_dir

# Where a checkout of the repository keeps them; settings name other files.
DEFAULT_RESPONSE_FILE = Path("response/routing.yml")
DEFAULT_CATALOGUE = Path("response/catalogue.yml")


@dataclass(frozen=True)
class ResponseConfig:
    """The response file and the service catalogue a worker runs with."""

    response: ResponseFile
    catalogue: Catalogue


def _existing(configured: Path | None, default: Path) -> Path | None:
    if configured is not None:
        return configured
    return default if default.is_file() else None


def load_response_config(settings: Settings) -> ResponseConfig:
    """Read the response file and the catalogue named in settings (or the repository's, when present).

    Raises:
        ConfigError: a file cannot be read or is invalid.
    """
    response = load_response_file(_existing(settings.response.routing_file, DEFAULT_RESPONSE_FILE))
    catalogue = load_catalogue(_existing(settings.response.catalogue_file, DEFAULT_CATALOGUE))
    return ResponseConfig(response=response, catalogue=catalogue)


@asynccontextmanager
async def soar_worker(
    settings: Settings,
    search: SearchClient,
    temporal: Client,
    *,
    task_queue: str | None = None,
    config: ResponseConfig | None = None,
    responders: Responders | None = None,
) -> AsyncIterator[Worker]:
    """A worker running everything soar runs on Temporal; its connectors are closed when the block ends.

    Args:
        settings: soar's settings (namespace, connectors, approvals, DORA profile).
        search: The search engine.
        temporal: The Temporal client (pydantic data converter).
        task_queue: The queue to poll (default: settings.temporal.task_queue).
        config: The response file and catalogue (default: read as :func:`load_response_config` does).
        responders: The connectors (default: built from settings; dry-run files under the data directory).
    """
    config = config or load_response_config(settings)
    own = responders is None
    responders = responders or Responders(settings.response.connectors, settings.data_dir / "dry-run")
    activities = [
        *DetectActivities(
            search, temporal, config.response.routing, default_cache_dir(settings.data_dir)
        ).all(),
        *TriageActivities(
            search,
            config.catalogue,
            config.response,
            identity=responders.identity,
            approvals=settings.response.approvals,
        ).all(),
        *ContainmentActivities(responders).all(),
        *NotifyActivities(responders).all(),
        *AuditActivities(search, settings.namespace).all(),
        *IncidentActivities(search, temporal, settings, config.catalogue).all(),
    ]
    worker = Worker(
        temporal,
        task_queue=task_queue or settings.temporal.task_queue,
        workflows=[SweepWorkflow, TriageWorkflow, ContainmentWorkflow, IncidentWorkflow],
        activities=activities,
        graceful_shutdown_timeout=timedelta(seconds=20),
    )
    try:
        yield worker
    finally:
        if own:
            await responders.aclose()
