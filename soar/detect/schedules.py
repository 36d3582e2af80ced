"""Temporal Schedules of the sweeps: one per rule group, overlapping runs skipped, missed runs caught up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError

from soar.config import Settings
from soar.detect.ruleset import SweepRule
from soar.detect.run import sweep_input
from soar.detect.settings import DetectSettings
from soar.detect.sweep import SweepWorkflow
from soar.errors import EngineError


def schedule_id(group: str) -> str:
    """The id of a rule group's schedule (what ``soar detect pause GROUP`` acts on)."""
    return f"detect-sweep-{group}"


def group_schedule(
    group: str,
    rules: list[SweepRule],
    paths: Sequence[Path],
    settings: Settings,
    detect: DetectSettings,
    interval: timedelta,
) -> Schedule:
    """The schedule of one group: every ``interval``, skip while a sweep runs, catch up after downtime."""
    action = ScheduleActionStartWorkflow(
        SweepWorkflow.run,
        sweep_input(group, rules, paths, settings, detect, force=False),
        id=schedule_id(group),
        task_queue=settings.temporal.task_queue,
    )
    return Schedule(
        action=action,
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=interval)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=detect.catchup_window),
        state=ScheduleState(note=f"soar detection sweep of rule group {group} ({len(rules)} rules)"),
    )


async def upsert_schedules(client: Client, schedules: dict[str, Schedule]) -> list[tuple[str, str]]:
    """Create each group's schedule, or update it in place; returns (schedule id, created|updated)."""
    done = []
    for group, schedule in schedules.items():
        sid = schedule_id(group)
        try:
            await client.create_schedule(sid, schedule)
            done.append((sid, "created"))
        except ScheduleAlreadyRunningError:

            def replace(_: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=new)

            await client.get_schedule_handle(sid).update(replace)
            done.append((sid, "updated"))
        except RPCError as exc:
            raise EngineError(f"schedule {sid}: {exc.message}") from None
    return done


async def set_paused(client: Client, group: str, paused: bool) -> None:
    """Pause or resume a group's schedule."""
    handle = client.get_schedule_handle(schedule_id(group))
    try:
        if paused:
            await handle.pause(note="paused with soar detect pause")
        else:
            await handle.unpause(note="resumed with soar detect resume")
    except RPCError as exc:
        raise EngineError(f"schedule {schedule_id(group)}: {exc.message}") from None
