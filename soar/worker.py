"""The soar worker: detection sweeps, every playbook and every activity, on one task queue.

Start as many as the load needs, on any hosts: they share the queue. Each worker builds its clients once
(search engine, Temporal, connectors) from the settings it is given and hands them to the activities.

A worker can die at any moment (SIGKILL, out of memory, a lost node). Temporal only learns that an activity's
worker is gone when the activity times out, so every activity the playbooks schedule gets a heartbeat timeout
(:data:`LIVENESS`) and heartbeats while it runs: another worker takes it over within seconds, instead of
after its start-to-close timeout (minutes for containment).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    StartActivityInput,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

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
from soar.engines.workflow import workflow_runner
from soar.response.catalogue import Catalogue, load_catalogue
from soar.response.policy import ResponseFile, load_response_file
from soar.rules.compile import default_cache_dir

# Where a checkout of the repository keeps them; settings name other files.
DEFAULT_RESPONSE_FILE = Path("response/routing.yml")
DEFAULT_CATALOGUE = Path("response/catalogue.yml")
# How long an activity may go without a heartbeat before Temporal hands it to another worker.
LIVENESS = timedelta(seconds=10)
# Heartbeats leave the worker at most this often; well under LIVENESS, so a busy event loop has slack.
_THROTTLE = timedelta(seconds=2)
# The sweep gives its activities a heartbeat timeout of its own, and they heartbeat themselves, on any worker
# (soar/detect/sweep.py, soar/detect/activities.py).
_SWEEP = "DetectSweep"


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


def _has_idp(settings: Settings) -> bool:
    connectors = settings.response.connectors
    return connectors.keycloak is not None or connectors.okta is not None


@asynccontextmanager
async def soar_worker(
    settings: Settings,
    search: SearchClient,
    temporal: Client,
    *,
    task_queue: str | None = None,
    config: ResponseConfig | None = None,
    responders: Responders | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> AsyncIterator[Worker]:
    """A worker running everything soar runs on Temporal; its connectors are closed when the block ends.

    Args:
        settings: soar's settings (namespace, connectors, approvals, DORA profile).
        search: The search engine.
        temporal: The Temporal client (pydantic data converter).
        task_queue: The queue to poll (default: settings.temporal.task_queue).
        config: The response file and catalogue (default: read as :func:`load_response_config` does).
        responders: The connectors (default: built from settings; dry-run files under the data directory).
        interceptors: More worker interceptors (tracing, metrics), after soar's own.
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
            identity=responders.identity if _has_idp(settings) else None,
            approvals=settings.response.approvals,
        ).all(),
        *ContainmentActivities(responders, temporal).all(),
        *NotifyActivities(responders).all(),
        *AuditActivities(search, settings.namespace).all(),
        *IncidentActivities(search, temporal, settings, config.catalogue).all(),
    ]
    worker = Worker(
        temporal,
        task_queue=task_queue or settings.temporal.task_queue,
        workflows=[SweepWorkflow, TriageWorkflow, ContainmentWorkflow, IncidentWorkflow],
        activities=activities,
        interceptors=[Liveness(), *interceptors],
        workflow_runner=workflow_runner(settings.temporal),
        max_concurrent_workflow_tasks=settings.temporal.max_concurrent_workflow_tasks,
        max_concurrent_activities=settings.temporal.max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=20),
        max_heartbeat_throttle_interval=_THROTTLE,
    )
    try:
        yield worker
    finally:
        if own:
            await responders.aclose()


class Liveness(Interceptor):
    """Heartbeat timeouts on the activities workflows schedule, and heartbeats while activities run."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Heartbeat for the activity while it runs (one interceptor per activity execution)."""
        return _Beating(next)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        """Give every activity a workflow schedules a heartbeat timeout."""
        return _LivenessWorkflow


class _LivenessWorkflow(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_LivenessOutbound(outbound))


class _LivenessOutbound(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
        longer = input.start_to_close_timeout is None or input.start_to_close_timeout > LIVENESS
        sweep = workflow.info().workflow_type == _SWEEP
        if input.heartbeat_timeout is None and longer and not sweep:
            input.heartbeat_timeout = LIVENESS
        return super().start_activity(input)


class _Recorder(ActivityOutboundInterceptor):
    """Remembers the activity's own heartbeat details, so the automatic heartbeats repeat them."""

    def __init__(self, next: ActivityOutboundInterceptor) -> None:
        super().__init__(next)
        self.details: tuple[Any, ...] = ()

    def heartbeat(self, *details: Any) -> None:
        self.details = details
        super().heartbeat(*details)


class _Beating(ActivityInboundInterceptor):
    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        self._recorder = _Recorder(outbound)
        super().init(self._recorder)

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        if info.heartbeat_timeout is None or info.is_local:
            return await super().execute_activity(input)
        # A retry must not wipe what an earlier attempt recorded (containment's undo): repeat it until the
        # activity heartbeats details of its own.
        self._recorder.details = tuple(info.heartbeat_details)
        beating = asyncio.create_task(self._beat(info.heartbeat_timeout / 5))
        try:
            return await super().execute_activity(input)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating

    async def _beat(self, every: timedelta) -> None:
        while True:
            await asyncio.sleep(every.total_seconds())
            self._recorder.heartbeat(*self._recorder.details)
