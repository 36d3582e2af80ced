"""The audit activities: how a workflow's :class:`~soar.audit.trail.AuditTrail` reaches the audit index."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from soar.audit.models import AuditBatch, AuditEntry, AuditReceipt, HeadQuery, StreamHead
from soar.audit.store import (
    advance_head,
    create_record,
    ensure_audit_indices,
    get_record,
    place_chain,
    stream_head,
)
from soar.engines.search import SearchClient
from soar.errors import AuditError, EngineError, SoarError


def _application_error(exc: SoarError) -> ApplicationError:
    """An engine failure is retried by Temporal's policy; a chain conflict never heals by retrying."""
    return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not isinstance(exc, EngineError))


class AuditActivities:
    """Activities of the audit trail, holding the search client and the namespace they write to.

    Args:
        search: The search engine holding ``soar-audit-<namespace>``.
        namespace: The soar namespace (settings.namespace).
    """

    def __init__(self, search: SearchClient, namespace: str) -> None:
        self.search = search
        self.namespace = namespace
        self._ready = False

    async def _ensure(self) -> None:
        if not self._ready:
            await ensure_audit_indices(self.search, self.namespace)
            self._ready = True

    @activity.defn(name="audit.append")
    async def append(self, entry: AuditEntry) -> AuditReceipt:
        """Store one record, then move the stream's head; a retry of a stored record writes nothing.

        Raises:
            ApplicationError: ``AuditError`` (not retried) when the place is held by a different record or
                the previous record is not the one ``prev_hash`` names; ``SearchError`` (retried) otherwise.
        """
        record = entry.sealed()
        try:
            await self._ensure()
            await self._check_link(entry)
            created = await create_record(self.search, self.namespace, record)
            await advance_head(self.search, self.namespace, record)
        except SoarError as exc:
            raise _application_error(exc) from exc
        return AuditReceipt(stream=record.stream, seq=record.seq, hash=record.hash, created=created)

    @activity.defn(name="audit.append_batch")
    async def append_batch(self, batch: AuditBatch) -> AuditReceipt:
        """Chain a batch of records onto the stream in one request, then move its head once.

        The receipt is that of the last record as stored; a retry of stored records writes nothing.

        Raises:
            ApplicationError: ``AuditError`` (not retried) when a place is held by a different record or the
                batch does not follow the stored chain; ``SearchError`` (retried) otherwise.
        """
        try:
            await self._ensure()
            records, created = await place_chain(self.search, self.namespace, batch)
            await advance_head(self.search, self.namespace, records[-1], new_stream=batch.after_seq == 0)
        except SoarError as exc:
            raise _application_error(exc) from exc
        last = records[-1]
        return AuditReceipt(stream=last.stream, seq=last.seq, hash=last.hash, created=created)

    async def _check_link(self, entry: AuditEntry) -> None:
        # The chain is checked as it is written, so a writer that lost track of the stream stops here.
        if entry.seq == 1:
            if entry.prev_hash:
                raise AuditError(f"{entry.stream}: record 1 must have an empty prev_hash")
            return
        prev = await get_record(self.search, self.namespace, entry.stream, entry.seq - 1)
        if prev is None or prev.hash != entry.prev_hash:
            found = "missing" if prev is None else "a different record"
            raise AuditError(
                f"{entry.stream}: record {entry.seq - 1} is {found}; cannot chain record {entry.seq}"
            )

    @activity.defn(name="audit.head")
    async def head(self, query: HeadQuery) -> StreamHead:
        """The stream's last stored record (seq 0 for a new stream), so a reused workflow id chains on."""
        try:
            await self._ensure()
            return await stream_head(self.search, self.namespace, query.stream)
        except SoarError as exc:
            raise _application_error(exc) from exc

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for a worker."""
        return [self.append, self.append_batch, self.head]
