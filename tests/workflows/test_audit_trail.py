"""AuditTrail inside a workflow on the time-skipping server, the audit activities on the embedded search engine."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from pydantic import BaseModel
    from temporalio.client import WorkflowHandle
    from temporalio.exceptions import ApplicationError
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Replayer, Worker

    from soar.audit.activities import AuditActivities
    from soar.audit.models import AuditBatch, AuditEntry, AuditReceipt, TrailState, input_hash
    from soar.audit.store import audit_index, read_head
    from soar.audit.trail import AuditTrail
    from soar.audit.verify import iter_records, verify
    from soar.engines.search import SearchClient

pytestmark = pytest.mark.engines

NS = "default"


class Steps(BaseModel):
    """What the test workflow does: ``steps`` records, a continue-as-new after ``split``, then ``parallel``."""

    steps: int
    split: int = 0
    parallel: int = 0
    done: int = 0
    state: TrailState | None = None


@workflow.defn(name="AuditTrailTest", sandboxed=True)
class AuditedSteps:
    """Records its steps in its audit trail."""

    @workflow.run
    async def run(self, spec: Steps) -> TrailState:
        trail = AuditTrail.for_workflow(spec.state)
        for i in range(spec.done, spec.steps):
            action = "playbook.started" if i == 0 else "action.applied"
            await trail.record("soar:test", action, f"step-{i}", input={"step": i}, result={"step": i})
            if spec.split and i + 1 == spec.split and spec.state is None:
                next_run = Steps(steps=spec.steps, parallel=spec.parallel, done=i + 1, state=trail.state())
                workflow.continue_as_new(next_run)
        # Signal handlers and the main coroutine can record at the same time: the trail serialises them.
        await asyncio.gather(
            *(trail.record("alice", "approval.granted", f"p-{j}") for j in range(spec.parallel))
        )
        return trail.state()


class CrashAfterWrite(AuditActivities):
    """The real append, but the first attempt of even seqs is lost after the write (a worker dies)."""

    crashes = 0

    @activity.defn(name="audit.append_batch")
    async def append_batch(self, batch: AuditBatch) -> AuditReceipt:
        """Append, then fail the first attempt of batches ending on an even seq."""
        receipt = await super().append_batch(batch)
        if batch.entries[-1].seq % 2 == 0 and activity.info().attempt == 1:
            self.crashes += 1
            raise RuntimeError("worker lost after the write")
        return receipt


async def _run(
    env: WorkflowEnvironment,
    activities: AuditActivities,
    spec: Steps,
    workflow_id: str | None = None,
) -> tuple[TrailState, WorkflowHandle[AuditedSteps, TrailState]]:
    queue = f"audit-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=queue, workflows=[AuditedSteps], activities=activities.all()):
        handle = await env.client.start_workflow(
            AuditedSteps.run,
            spec,
            id=workflow_id or f"audit-test-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            execution_timeout=timedelta(minutes=2),  # a failing workflow task fails the test
        )
        return await handle.result(), handle


async def _records(search: SearchClient, stream: str) -> list[AuditEntry]:
    return [
        AuditEntry(**{k: v for k, v in h["_source"].items() if k != "hash"})
        async for h in iter_records(search, NS, stream)
    ]


async def _count(search: SearchClient) -> int:
    await search.es.indices.refresh(index=audit_index(NS))
    return int((await search.es.count(index=audit_index(NS)))["count"])


async def test_five_steps_are_contiguous_and_verify(
    workflow_env: WorkflowEnvironment, search: SearchClient
) -> None:
    state, handle = await _run(workflow_env, AuditActivities(search, NS), Steps(steps=5))
    stream = handle.id
    assert (state.stream, state.seq, state.opened) == (stream, 5, True)
    records = await _records(search, stream)
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert [r.subject for r in records] == [f"step-{i}" for i in range(5)]
    assert [r.action for r in records] == ["playbook.started"] + ["action.applied"] * 4
    assert records[0].prev_hash == ""
    assert all(r.input_hash == input_hash({"step": i}) for i, r in enumerate(records))
    assert all(b.prev_hash == a.compute_hash() for a, b in itertools.pairwise(records))
    assert all(a.at <= b.at for a, b in itertools.pairwise(records))
    assert state.head == records[-1].compute_hash()
    head = await read_head(search, NS, stream)
    assert head is not None
    assert (head.seq, head.hash) == (5, state.head)
    report = await verify(search, NS)
    assert report.ok, report.broken
    assert (report.streams, report.records) == (1, 5)
    # The history replays deterministically: the same records, the same activity calls.
    await Replayer(
        workflows=[AuditedSteps], data_converter=workflow_env.client.data_converter
    ).replay_workflow(await handle.fetch_history())


async def test_a_retried_append_writes_nothing_new(
    workflow_env: WorkflowEnvironment, search: SearchClient
) -> None:
    activities = CrashAfterWrite(search, NS)
    state, handle = await _run(workflow_env, activities, Steps(steps=5))
    assert activities.crashes == 2  # seqs 2 and 4 were written, then their activity failed and was retried
    assert state.seq == 5
    assert [r.seq for r in await _records(search, handle.id)] == [1, 2, 3, 4, 5]
    assert await _count(search) == 5
    assert (await verify(search, NS)).ok


async def test_the_chain_continues_across_continue_as_new(
    workflow_env: WorkflowEnvironment, search: SearchClient
) -> None:
    state, handle = await _run(workflow_env, AuditActivities(search, NS), Steps(steps=5, split=2, parallel=3))
    assert state.seq == 8
    records = await _records(search, handle.id)
    assert [r.seq for r in records] == list(range(1, 9))
    assert sorted(r.subject for r in records[5:]) == ["p-0", "p-1", "p-2"]
    report = await verify(search, NS)
    assert report.ok, report.broken
    assert (report.streams, report.records) == (1, 8)


async def test_a_reused_workflow_id_continues_its_stream(
    workflow_env: WorkflowEnvironment, search: SearchClient
) -> None:
    workflow_id = f"containment-INC-1-disable_user-{uuid.uuid4().hex[:8]}"
    activities = AuditActivities(search, NS)
    await _run(workflow_env, activities, Steps(steps=3), workflow_id)
    state, _ = await _run(workflow_env, activities, Steps(steps=2), workflow_id)
    assert state.seq == 5
    assert [r.subject for r in await _records(search, workflow_id)] == [
        "step-0",
        "step-1",
        "step-2",
        "step-0",
        "step-1",
    ]
    assert (await verify(search, NS)).ok


def _entries(stream: str, at: datetime, actions: list[str]) -> list[AuditEntry]:
    return [
        AuditEntry(stream=stream, seq=i + 1, at=at, actor="soar:test", action=a, subject="s", result={"i": i})
        for i, a in enumerate(actions)
    ]


async def test_a_retried_workflow_task_finds_its_records_written(search: SearchClient) -> None:
    # A workflow task that ran its local activities, timed out and ran them again: same records, later ``at``.
    activities, stream = AuditActivities(search, NS), f"alert-{uuid.uuid4().hex}"
    first_at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    actions = ["alert.triaged", "alert.grouped"]
    first = await activities.append_batch(
        AuditBatch(stream=stream, after_seq=0, entries=_entries(stream, first_at, actions))
    )
    again = await activities.append_batch(
        AuditBatch(
            stream=stream, after_seq=0, entries=_entries(stream, first_at + timedelta(seconds=12), actions)
        )
    )
    assert (first.seq, first.created) == (2, True)
    assert (again.seq, again.hash, again.created) == (2, first.hash, False)
    records = await _records(search, stream)
    assert [r.at for r in records] == [first_at, first_at]  # the records of the first attempt stand
    # Something else at a taken place is another writer: refused, never chained over.
    with pytest.raises(ApplicationError, match="a different audit record already holds"):
        await activities.append_batch(
            AuditBatch(stream=stream, after_seq=0, entries=_entries(stream, first_at, ["action.applied"]))
        )
    # A batch that names the wrong last record is refused too.
    with pytest.raises(ApplicationError, match="record 2 is a different record"):
        await activities.append_batch(
            AuditBatch(
                stream=stream,
                after_seq=2,
                after_hash="0" * 64,
                entries=_entries(stream, first_at, ["action.applied"]),
            )
        )
    third = await activities.append_batch(
        AuditBatch(
            stream=stream,
            after_seq=2,
            after_hash=first.hash,
            entries=_entries(stream, first_at, ["action.applied"]),
        )
    )
    assert third.seq == 3
    report = await verify(search, NS, stream=stream)
    assert report.ok, report.broken
    assert report.records == 3
