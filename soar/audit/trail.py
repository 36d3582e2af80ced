"""The workflow side of the audit trail: deterministic, it fixes every field and leaves the writing to an activity.

A playbook holds one :class:`AuditTrail` for its execution (stream = workflow id) and awaits
:meth:`AuditTrail.record` for each step, approval and external call. The workflow fixes seq, ``at``
(``workflow.now()``) and ``prev_hash``, so a replay or a retried activity writes the byte-identical record,
which the activity recognises instead of writing twice.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from soar.audit.models import AuditEntry, AuditReceipt, HeadQuery, StreamHead, TrailState, input_hash

APPEND = "audit.append"
HEAD = "audit.head"
# Audit is not optional: an unreachable search engine holds the step until it is back (no attempt limit).
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["AuditError"],
)
TIMEOUT = timedelta(seconds=30)


class AuditTrail:
    """One workflow execution's audit stream.

    Args:
        state: Where the trail stands: ``TrailState(stream=...)`` for a new one, or what :meth:`state`
            returned before a continue-as-new.
        task_queue: The queue of the workers running the audit activities (default: the workflow's own).
    """

    def __init__(self, state: TrailState, *, task_queue: str | None = None) -> None:
        self._state = state.model_copy()
        self._task_queue = task_queue
        # Signal handlers and the main coroutine may record at once; each record needs the previous head.
        self._lock = asyncio.Lock()

    @classmethod
    def for_workflow(cls, state: TrailState | None = None, *, task_queue: str | None = None) -> AuditTrail:
        """The trail of the running workflow: stream = its workflow id, or ``state`` carried over."""
        return cls(state or TrailState(stream=workflow.info().workflow_id), task_queue=task_queue)

    @property
    def stream(self) -> str:
        """The stream written to."""
        return self._state.stream

    def state(self) -> TrailState:
        """Where the trail stands, to pass to the next run on continue-as-new."""
        return self._state.model_copy()

    async def record(
        self,
        actor: str,
        action: str,
        subject: str = "",
        *,
        input: Any = None,
        result: dict[str, Any] | None = None,
    ) -> AuditReceipt:
        """Append one record to the stream and wait until it is stored.

        Args:
            actor: A person's name, or ``soar:<playbook>``.
            action: What happened (``AuditAction`` lists the vocabulary), e.g. ``action.applied``.
            subject: The incident, action or alert id it concerns.
            input: What the step acted on; only its hash is recorded.
            result: A short JSON summary of the outcome; never a secret (keys naming credentials are refused).

        Returns:
            The receipt: seq and hash of the stored record.

        Raises:
            pydantic.ValidationError: a field is invalid (a bug in the playbook: the workflow task fails).
            temporalio.exceptions.ActivityError: the record conflicts with the stored chain (``AuditError``).
        """
        async with self._lock:
            if not self._state.opened:
                await self._open()
            entry = AuditEntry(
                stream=self._state.stream,
                seq=self._state.seq + 1,
                at=workflow.now(),
                actor=actor,
                action=action,
                subject=subject,
                input_hash=input_hash(input),
                result=result or {},
                prev_hash=self._state.head,
            )
            receipt: AuditReceipt = await workflow.execute_activity(
                APPEND,
                entry,
                result_type=AuditReceipt,
                task_queue=self._task_queue,
                start_to_close_timeout=TIMEOUT,
                retry_policy=RETRY,
            )
            self._state = self._state.model_copy(update={"seq": receipt.seq, "head": receipt.hash})
            return receipt

    async def _open(self) -> None:
        # A workflow id can be reused (a failed containment started again): its trail continues the chain.
        head: StreamHead = await workflow.execute_activity(
            HEAD,
            HeadQuery(stream=self._state.stream),
            result_type=StreamHead,
            task_queue=self._task_queue,
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
        )
        if head.seq > self._state.seq:
            self._state = self._state.model_copy(update={"seq": head.seq, "head": head.hash})
        self._state = self._state.model_copy(update={"opened": True})
