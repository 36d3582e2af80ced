"""The workflow side of the audit trail: deterministic, it fixes every field and leaves the writing to an activity.

A playbook holds one :class:`AuditTrail` for its execution (stream = workflow id) and awaits
:meth:`AuditTrail.record` for each step, approval and external call. The workflow fixes seq, ``at``
(``workflow.now()``), ``prev_hash`` and the hash itself, so a replay or a retried activity writes the
byte-identical record, which the activity recognises instead of writing twice.

Records go out several at once when a step defers its record to the next one (``defer=True``): a record
kept in the workflow's state is as durable as the history it replays from, and one write per step instead
of one per record is what lets a thousand playbooks run at once. Histories
recorded before that change (an activity per record, the stream head always read) replay unchanged.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from soar.audit.models import (
    AuditBatch,
    AuditEntry,
    AuditReceipt,
    HeadQuery,
    StreamHead,
    TrailState,
    input_hash,
)

APPEND = "audit.append"
APPEND_BATCH = "audit.append_batch"
HEAD = "audit.head"
# Audit is not optional: an unreachable search engine holds the step until it is back (no attempt limit).
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["AuditError"],
)
TIMEOUT = timedelta(seconds=30)
# Workflows started before batched appends keep their one-activity-per-record history.
BATCHED = "audit-batched"


class AuditTrail:
    """One workflow execution's audit stream.

    Args:
        state: Where the trail stands: ``TrailState(stream=...)`` for a new one, or what :meth:`state`
            returned before a continue-as-new.
        task_queue: The queue of the workers running the audit activities (default: the workflow's own).
        new_stream: The workflow's id is never reused (``REJECT_DUPLICATE``), so its stream starts empty
            and its stored head need not be read.
        batched: Whether records go out batched, the head read only for reused ids; None asks the history
            (``workflow.patched``). A playbook that already branches on a patch of its own passes it here.
        local: Write the batches by local activity, in the workflow task that records them, for a playbook
            whose stream is new (``new_stream``) and which takes no signals: no task round trip per write. If
            that task fails after a write, its next attempt runs the steps again and its records go after
            the ones stored (``AuditBatch.own_attempts``).
    """

    def __init__(
        self,
        state: TrailState,
        *,
        task_queue: str | None = None,
        new_stream: bool = False,
        batched: bool | None = None,
        local: bool = False,
    ) -> None:
        self._batched = workflow.patched(BATCHED) if batched is None else batched
        if local and not (new_stream and self._batched):
            raise ValueError("local audit writes need a new stream and batched records")
        self._local = local
        self._state = state.model_copy()
        if new_stream and self._batched and state.seq == 0:
            self._state = self._state.model_copy(update={"opened": True})
        self._task_queue = task_queue
        self._pending: list[AuditEntry] = []
        self._linked = False  # the record before the next batch was stored by this run
        self._last: AuditReceipt | None = None
        # Signal handlers and the main coroutine may record at once; each record needs the previous head.
        self._lock = asyncio.Lock()

    @classmethod
    def for_workflow(
        cls,
        state: TrailState | None = None,
        *,
        task_queue: str | None = None,
        new_stream: bool = False,
        batched: bool | None = None,
        local: bool = False,
    ) -> AuditTrail:
        """The trail of the running workflow: stream = its workflow id, or ``state`` carried over."""
        stream = state or TrailState(stream=workflow.info().workflow_id)
        return cls(stream, task_queue=task_queue, new_stream=new_stream, batched=batched, local=local)

    @property
    def stream(self) -> str:
        """The stream written to."""
        return self._state.stream

    def state(self) -> TrailState:
        """Where the trail stands, to pass to the next run on continue-as-new (after :meth:`flush`).

        Raises:
            RuntimeError: deferred records were not flushed (a bug in the playbook).
        """
        if self._pending:
            raise RuntimeError(f"{self.stream}: {len(self._pending)} deferred audit record(s) not flushed")
        return self._state.model_copy()

    async def record(
        self,
        actor: str,
        action: str,
        subject: str = "",
        *,
        input: Any = None,
        result: dict[str, Any] | None = None,
        defer: bool = False,
    ) -> AuditReceipt | None:
        """Append one record to the stream and wait until it is stored (with any deferred before it).

        Args:
            actor: A person's name, or ``soar:<playbook>``.
            action: What happened (``AuditAction`` lists the vocabulary), e.g. ``action.applied``.
            subject: The incident, action or alert id it concerns.
            input: What the step acted on; only its hash is recorded.
            result: A short JSON summary of the outcome; never a secret (keys naming credentials are refused).
            defer: Keep the record in the workflow until the next record that is not deferred, or
                :meth:`flush`: one write for a step's records.

        Returns:
            The receipt of the last record stored (seq and hash), None while the record waits.

        Raises:
            pydantic.ValidationError: a field is invalid (a bug in the playbook: the workflow task fails).
            temporalio.exceptions.ActivityError: the record conflicts with the stored chain (``AuditError``).
        """
        if not self._batched:
            return await self._record_one(actor, action, subject, input=input, result=result)
        if not self._state.opened:
            async with self._lock:
                await self._open()
        # Its place and link are fixed when its batch is written (see AuditBatch), after the head the last
        # batch returned: records noted while a batch is being written take the places after it.
        entry = self._next(actor, action, subject, input, result, behind=len(self._pending))
        self._pending.append(entry)
        return None if defer else await self.flush()

    async def flush(self) -> AuditReceipt | None:
        """Store the deferred records in one write; the receipt of the last one stored (None if none ever)."""
        async with self._lock:
            if not self._pending:
                return self._last
            state, entries, self._pending = self._state, self._pending, []
            batch = AuditBatch(
                stream=state.stream,
                after_seq=state.seq,
                after_hash=state.head,
                entries=entries,
                linked=self._linked,
                own_attempts=self._local,
            )
            receipt: AuditReceipt = await self._write(APPEND_BATCH, batch)
            self._last = receipt
            self._state = state.model_copy(update={"seq": receipt.seq, "head": receipt.hash})
            self._linked = True
            return receipt

    async def _write(self, activity: str, arg: AuditBatch | AuditEntry | HeadQuery) -> Any:
        # An activity unless asked otherwise: its input enters the history before it runs, so the records
        # written are the ones the workflow goes on from. A local activity's workflow task can time out
        # after the write and run again with a later workflow.now() and new signals: other records.
        result_type = StreamHead if isinstance(arg, HeadQuery) else AuditReceipt
        if self._local:
            return await workflow.execute_local_activity(
                activity, arg, result_type=result_type, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
            )
        return await workflow.execute_activity(
            activity,
            arg,
            result_type=result_type,
            task_queue=self._task_queue,
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
        )

    async def _record_one(
        self, actor: str, action: str, subject: str, *, input: Any, result: dict[str, Any] | None
    ) -> AuditReceipt:
        """The record as workflows started before batching wrote it: one activity, its head read first."""
        async with self._lock:
            if not self._state.opened:
                await self._open()
            entry = self._next(actor, action, subject, input, result)
            receipt: AuditReceipt = await self._write(APPEND, entry)
            self._state = self._state.model_copy(update={"seq": receipt.seq, "head": receipt.hash})
            return receipt

    def _next(
        self,
        actor: str,
        action: str,
        subject: str,
        input: Any,
        result: dict[str, Any] | None,
        behind: int = 0,
    ) -> AuditEntry:
        """The record following the chain's current head (and ``behind`` records waiting to be written)."""
        return AuditEntry(
            stream=self._state.stream,
            seq=self._state.seq + behind + 1,
            at=workflow.now(),
            actor=actor,
            action=action,
            subject=subject,
            input_hash=input_hash(input),
            result=result or {},
            prev_hash="" if behind else self._state.head,
        )

    async def _open(self) -> None:
        # A workflow id can be reused (a failed containment started again): its trail continues the chain.
        if self._state.opened:
            return
        head: StreamHead = await self._write(HEAD, HeadQuery(stream=self._state.stream))
        if head.seq > self._state.seq:
            self._state = self._state.model_copy(update={"seq": head.seq, "head": head.hash})
        self._state = self._state.model_copy(update={"opened": True})
