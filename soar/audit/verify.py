"""Verification of the audit chains: every record re-hashed, every link and seq checked, heads compared.

Records are read in (stream, seq) order through a point in time with ``search_after``, a page at a time,
so memory holds one page and one head per stream, whatever the number of records. Per stream the first
broken record is reported with why:

- hash mismatch: a field was edited;
- a missing seq: records were deleted from the middle;
- a ``prev_hash`` that does not link: records were reordered or inserted;
- a chain shorter than its head anchor: records were deleted from the end (or all of them);
- a malformed document or one stored under another id: edited outside soar.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from elasticsearch import ApiError
from pydantic import BaseModel, Field

from soar.audit.models import AuditRecord, StreamHead
from soar.audit.store import audit_index, heads_index, parse_record, read_head
from soar.detect.pit import PointInTime
from soar.engines.search import SearchClient, search_error
from soar.errors import AuditError

PAGE = 1000
_DAMAGED = -1  # a head document that does not parse


class StreamReport(BaseModel):
    """One stream's verdict: OK, or the first broken seq and why."""

    stream: str
    records: int = 0
    last_seq: int = 0
    head_seq: int | None = None  # the anchor's seq; None when the stream has no head document
    broken_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when nothing is broken."""
        return self.broken_seq is None


class VerifyReport(BaseModel):
    """The verdict over a namespace (or one stream)."""

    streams: int = 0
    records: int = 0
    broken: list[StreamReport] = Field(default_factory=list)
    unanchored: list[str] = Field(default_factory=list)  # streams with records but no head document

    @property
    def ok(self) -> bool:
        """True when no stream is broken."""
        return not self.broken


class _Chain:
    """The running check of one stream, fed its records in seq order."""

    def __init__(self, stream: str, head: StreamHead | None) -> None:
        self.head = head
        self.report = StreamReport(stream=stream, head_seq=None if head is None else head.seq)
        self.prev_hash = ""

    def break_at(self, seq: int, reason: str) -> None:
        if self.report.ok:
            self.report.broken_seq = seq
            self.report.reason = reason

    def feed(self, hit: dict[str, Any]) -> None:
        self.report.records += 1
        if not self.report.ok:
            return
        expected = self.report.last_seq + 1
        try:
            record = parse_record(hit["_source"], hit["_id"])
        except AuditError as exc:
            self.break_at(expected, f"{exc} (edited outside soar)")
            return
        if record.doc_id != hit["_id"]:
            self.break_at(
                record.seq, f"stored under id {hit['_id']}, not {record.doc_id} (moved or inserted)"
            )
        elif record.compute_hash() != record.hash:
            self.break_at(record.seq, "hash mismatch: the record was edited")
        elif record.seq > expected:
            missing = f"{expected}" if record.seq == expected + 1 else f"{expected}-{record.seq - 1}"
            self.break_at(expected, f"seq {missing} missing: records were deleted")
        elif record.prev_hash != self.prev_hash:
            self.break_at(
                record.seq, f"prev_hash does not link to seq {record.seq - 1}: reordered or inserted"
            )
        else:
            self._advance(record)

    def _advance(self, record: AuditRecord) -> None:
        self.report.last_seq = record.seq
        self.prev_hash = record.hash
        head = self.head
        if head is not None and head.seq == record.seq and head.hash != record.hash:
            self.break_at(record.seq, "differs from the stream's head anchor: edited and re-chained")

    def finish(self) -> StreamReport:
        head, report = self.head, self.report
        if head is not None and head.seq == _DAMAGED:
            self.break_at(report.last_seq + 1, "the head anchor is malformed (edited outside soar)")
        elif head is not None and report.ok and head.seq > report.last_seq:
            if report.last_seq == 0:
                reason = f"all {head.seq} records are missing; the head anchor says {head.seq}: deleted"
            else:
                reason = f"seq {report.last_seq + 1}-{head.seq} missing from the end (the head anchor says {head.seq}): truncated"
            self.break_at(report.last_seq + 1, reason)
        return report


async def verify(
    search: SearchClient, namespace: str, *, stream: str | None = None, page: int = PAGE
) -> VerifyReport:
    """Check every chain of a namespace (or one stream) against its records and head anchors.

    Raises:
        SearchError: the search engine failed.
    """
    heads = await _heads(search, namespace, stream, page)
    result = VerifyReport()
    chain: _Chain | None = None
    seen: set[str] = set()
    async for hit in iter_records(search, namespace, stream, page):
        name = _stream_of(hit)
        if chain is None or name != chain.report.stream:
            if chain is not None:
                _close(result, chain, heads)
            if name in seen:  # its records were not contiguous in (stream, seq) order: a mangled seq
                chain = _Chain(name, None)
                chain.break_at(0, "a record sorts apart from its stream (seq field mangled)")
            else:
                chain = _Chain(name, heads.get(name))
            seen.add(name)
        chain.feed(hit)
    if chain is not None:
        _close(result, chain, heads)
    for name in sorted(set(heads) - seen):  # streams whose every record is gone
        result.streams += 1
        result.broken.append(_Chain(name, heads[name]).finish())
    return result


def _close(result: VerifyReport, chain: _Chain, heads: dict[str, StreamHead]) -> None:
    report = chain.finish()
    result.streams += 1
    result.records += report.records
    heads.pop(report.stream, None)  # handled: not reported again as a stream without records
    if not report.ok:
        result.broken.append(report)
    elif report.head_seq is None:
        result.unanchored.append(report.stream)


def _stream_of(hit: dict[str, Any]) -> str:
    stream = hit["_source"].get("stream")
    if isinstance(stream, str) and stream:
        return stream
    return str(hit["_id"]).rsplit(":", 1)[0]


async def _exists(search: SearchClient, index: str) -> bool:
    try:
        return bool(await search.es.indices.exists(index=index))
    except ApiError as exc:
        raise search_error(exc, f"checking {index}") from None


async def iter_records(
    search: SearchClient, namespace: str, stream: str | None = None, page: int = PAGE
) -> AsyncIterator[dict[str, Any]]:
    """Every stored record (raw hits) of a namespace or one stream, in (stream, seq) order."""
    index = audit_index(namespace)
    if not await _exists(search, index):
        return
    query = {"term": {"stream": stream}} if stream else {"match_all": {}}
    async with PointInTime(search, index) as pit:
        async for hits in pit.pages(query, [{"stream": "asc"}, {"seq": "asc"}], page):
            for hit in hits:
                yield hit


async def _heads(
    search: SearchClient, namespace: str, stream: str | None, page: int
) -> dict[str, StreamHead]:
    index = heads_index(namespace)
    if not await _exists(search, index):
        return {}
    if stream is not None:
        head = await read_head(search, namespace, stream)
        return {} if head is None else {stream: _checked(head, stream)}
    heads: dict[str, StreamHead] = {}
    async with PointInTime(search, index) as pit:
        async for hits in pit.pages({"match_all": {}}, [{"stream": "asc"}], page):
            for hit in hits:
                name = str(hit["_id"])
                try:
                    heads[name] = _checked(StreamHead.model_validate(hit["_source"]), name)
                except ValueError:
                    heads[name] = StreamHead(stream=name, seq=_DAMAGED)
    return heads


def _checked(head: StreamHead, name: str) -> StreamHead:
    # A head copied onto another stream's id would anchor the wrong chain.
    if head.stream != name:
        return StreamHead(stream=name, seq=_DAMAGED)
    return head


__all__ = ["StreamReport", "VerifyReport", "iter_records", "verify"]
