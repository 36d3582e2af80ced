"""Detection schedules on the Temporal dev server: one per rule group, overlaps skipped, catch-up, pause.

The time-skipping test server has no schedules, so this runs on the embedded dev server soar starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, ScheduleOverlapPolicy, WorkflowExecutionStatus

from soar.config import Settings
from soar.detect.checkpoints import ensure_indices
from soar.detect.run import rule_groups
from soar.detect.schedules import group_schedule, schedule_id, set_paused, upsert_schedules
from soar.detect.worker import detect_worker
from soar.engines.embedded import EmbeddedTemporal, free_port
from soar.engines.search import SearchClient
from soar.engines.workflow import connect_temporal

pytestmark = pytest.mark.engines
DETECTIONS = Path(__file__).resolve().parents[2] / "detections"


@pytest.fixture
async def dev_server(settings: Settings) -> AsyncIterator[Client]:
    settings.embedded.temporal_port = free_port()
    settings.embedded.temporal_ui_port = free_port()
    engine = EmbeddedTemporal(settings)
    await engine.start()
    try:
        yield await connect_temporal(settings.temporal, engine.address)
    finally:
        await engine.stop()


@pytest.mark.timeout(300)
async def test_group_schedules_start_sweeps_and_pause(
    dev_server: Client, settings: Settings, search: SearchClient
) -> None:
    groups, errors = rule_groups([DETECTIONS], settings)
    assert errors == []
    schedule = group_schedule(
        "okta", groups["okta"], [DETECTIONS], settings, settings.detect, timedelta(hours=1)
    )
    assert await upsert_schedules(dev_server, {"okta": schedule}) == [(schedule_id("okta"), "created")]
    # A second upsert updates in place (a changed interval or rule set), never a second schedule.
    assert await upsert_schedules(dev_server, {"okta": schedule}) == [(schedule_id("okta"), "updated")]
    handle = dev_server.get_schedule_handle(schedule_id("okta"))
    described = await handle.describe()
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert described.schedule.policy.catchup_window == settings.detect.catchup_window

    await set_paused(dev_server, "okta", True)
    assert (await handle.describe()).schedule.state.paused
    await set_paused(dev_server, "okta", False)
    assert not (await handle.describe()).schedule.state.paused

    # Triggered now, the schedule starts a sweep that a worker on the task queue runs to completion.
    await ensure_indices(search, settings.namespace)
    worker = detect_worker(dev_server, search, task_queue=settings.temporal.task_queue)
    async with worker:
        await handle.trigger()
        for _ in range(600):
            runs = [w async for w in dev_server.list_workflows("WorkflowType = 'DetectSweep'")]
            if runs and all(r.status == WorkflowExecutionStatus.COMPLETED for r in runs):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the scheduled sweep did not complete")
    assert all(r.id.startswith(schedule_id("okta")) for r in runs)
    assert (await handle.describe()).info.num_actions == 1
    await handle.delete()
