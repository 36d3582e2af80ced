"""A sweep whose activity's worker dies goes on within the heartbeat timeout, not after the start-to-close one.

Temporal only learns that a worker died when the activity it held times out. The sweep's activities carry a
heartbeat timeout and heartbeat while they run; without one, a killed worker's search would hold the group's
sweep for 15 minutes, and its schedule (overlapping runs skipped) would start nothing meanwhile. Here the
first search of the sweep hangs without a heartbeat (what a SIGKILLed worker looks like to Temporal): the
sweep must finish on its second attempt, long before the 15 minutes.
"""

from __future__ import annotations

import asyncio
import typing
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from soar.config import Settings
from soar.detect.activities import DetectActivities
from soar.detect.checkpoints import ensure_indices
from soar.detect.models import SweepInput
from soar.detect.sweep import SweepWorkflow
from soar.engines.search import SearchClient
from soar.telemetry.scenario import Scenario

pytestmark = pytest.mark.engines

DETECTIONS = Path(__file__).resolve().parents[2] / "detections"
DIES = "detect.search_window"


# The sweep's activities by their Temporal names.
ACTIVITIES = {
    "detect.load_group": "load_group",
    "detect.search_window": "search_window",
    "detect.save_checkpoints": "save_checkpoints",
    "detect.hand_over": "hand_over",
}


class Recorder:
    """The sweep's activities, recording each attempt; the first call of ``DIES`` never returns."""

    def __init__(self, real: DetectActivities) -> None:
        self.real = real
        self.seen: list[tuple[str, int, timedelta | None]] = []

    def activities(self) -> list[Callable[[Any], Awaitable[Any]]]:
        """The wrapped activities, under their own names."""
        return [self._wrap(name, getattr(self.real, method)) for name, method in ACTIVITIES.items()]

    def _wrap(self, name: str, real: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
        hints = typing.get_type_hints(real)

        async def run(spec: Any) -> Any:
            info = activity.info()
            first = name == DIES and not any(n == DIES for n, _, _ in self.seen)
            self.seen.append((name, info.attempt, info.heartbeat_timeout))
            if first:
                await asyncio.Event().wait()  # no result, no heartbeat, ever
            return await real(spec)

        run.__annotations__ = {"spec": hints["spec"], "return": hints["return"]}
        return activity.defn(name=name)(run)


async def test_sweep_goes_on_after_the_worker_of_its_search_dies(
    workflow_env: WorkflowEnvironment, search: SearchClient, settings: Settings, ingested: Scenario
) -> None:
    await ensure_indices(search, settings.namespace)
    recorder = Recorder(DetectActivities(search, workflow_env.client))
    queue = f"liveness-{uuid.uuid4().hex[:8]}"
    async with Worker(
        workflow_env.client, task_queue=queue, workflows=[SweepWorkflow], activities=recorder.activities()
    ):
        result = await asyncio.wait_for(
            workflow_env.client.execute_workflow(
                SweepWorkflow.run,
                SweepInput(group_id="okta", rules_path=[str(DETECTIONS)], force=True),
                id=f"sweep-okta-{uuid.uuid4().hex[:8]}",
                task_queue=queue,
            ),
            timeout=120,  # the search's start-to-close timeout is 15 minutes
        )
    assert result.windows > 0
    assert result.alerts_created > 0
    searches = [(attempt, beat) for name, attempt, beat in recorder.seen if name == DIES]
    assert searches[:2] == [(1, timedelta(seconds=20)), (2, timedelta(seconds=20))]
    # Every activity of the sweep is watched the same way.
    assert {name for name, _, beat in recorder.seen if beat is not None} == set(ACTIVITIES)
