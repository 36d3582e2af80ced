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

from soar.audit.models import RECORD_FIELDS, StreamHead, doc_id, document_hash
from soar.audit.store import audit_index, heads_index, read_head
from soar.detect.pit import PointInTime
from soar.engines.search import SearchClient, search_error

PAGE = 5000  # osmem sorts the whole index per page: fewer, larger pages are much faster there
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
        source = hit["_source"]
        expected = self.report.last_seq + 1
        problem = _malformed(source)
        if problem is not None:
            self.break_at(expected, f"malformed audit record: {problem} (edited outside soar)")
            return
        seq, stored_id = source["seq"], doc_id(source["stream"], source["seq"])
        # The stored document itself is hashed (not a parsed copy), so any edit of any byte shows.
        if stored_id != hit["_id"]:
            self.break_at(seq, f"stored under id {hit['_id']}, not {stored_id} (moved or inserted)")
        elif _rehash(source) != source["hash"]:
            self.break_at(seq, "hash mismatch: the record was edited")
        elif seq > expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected}-{seq - 1}"
            self.break_at(expected, f"seq {missing} missing: records were deleted")
        elif source["prev_hash"] != self.prev_hash:
            self.break_at(seq, f"prev_hash does not link to seq {seq - 1}: reordered or inserted")
        else:
            self._advance(seq, source["hash"])

    def _advance(self, seq: int, digest: str) -> None:
        self.report.last_seq = seq
        self.prev_hash = digest
        head = self.head
        if head is not None and head.seq == seq and head.hash != digest:
            self.break_at(seq, "differs from the stream's head anchor: edited and re-chained")

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


class Verifier:
    """Checks hits fed in (stream, seq) order against the head anchors; no I/O, so it is testable alone.

    Args:
        heads: Every head anchor in scope, by stream (a damaged one has seq -1).
    """

    def __init__(self, heads: dict[str, StreamHead]) -> None:
        self.heads = dict(heads)
        self.result = VerifyReport()
        self.chain: _Chain | None = None
        self.seen: set[str] = set()

    def feed(self, hit: dict[str, Any]) -> None:
        """Check the next stored record (a search hit with ``_id`` and ``_source``)."""
        name = _stream_of(hit)
        if self.chain is None or name != self.chain.report.stream:
            self._close()
            if name in self.seen:  # its records were not contiguous in (stream, seq) order: a mangled seq
                self.chain = _Chain(name, None)
                self.chain.break_at(0, "a record sorts apart from its stream (seq field mangled)")
            else:
                self.chain = _Chain(name, self.heads.pop(name, None))
            self.seen.add(name)
        self.chain.feed(hit)

    def finish(self) -> VerifyReport:
        """The verdict, once every record was fed."""
        self._close()
        for name in sorted(self.heads):  # anchored streams whose every record is gone
            self.result.streams += 1
            self.result.broken.append(_Chain(name, self.heads[name]).finish())
        self.heads.clear()
        return self.result

    def _close(self) -> None:
        if self.chain is None:
            return
        report = self.chain.finish()
        self.chain = None
        self.result.streams += 1
        self.result.records += report.records
        if not report.ok:
            self.result.broken.append(report)
        elif report.head_seq is None:
            self.result.unanchored.append(report.stream)


async def verify(
    search: SearchClient, namespace: str, *, stream: str | None = None, page: int = PAGE
) -> VerifyReport:
    """Check every chain of a namespace (or one stream) against its records and head anchors.

    Raises:
        SearchError: the search engine failed.
    """
    verifier = Verifier(await _heads(search, namespace, stream, page))
    async for hit in iter_records(search, namespace, stream, page):
        verifier.feed(hit)
    return verifier.finish()


def _malformed(source: dict[str, Any]) -> str | None:
    """Why a stored document cannot be a record (its fields or their types), or None."""
    keys = set(source)
    if keys != RECORD_FIELDS:
        missing, extra = sorted(RECORD_FIELDS - keys), sorted(keys - RECORD_FIELDS)
        return f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(extra)}"
    seq = source["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return "seq: not a positive integer"
    for name in ("stream", "hash", "prev_hash"):
        if not isinstance(source[name], str) or (name == "stream" and not source[name]):
            return f"{name}: not a string"
    return None


def _rehash(source: dict[str, Any]) -> str:
    try:
        return document_hash(source)
    except ValueError:
        return ""  # NaN or infinity: no writer stores that


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


__all__ = ["StreamReport", "Verifier", "VerifyReport", "iter_records", "verify"]
