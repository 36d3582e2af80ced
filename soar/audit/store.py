"""Audit indices: ``soar-audit-<ns>`` holds the records, ``soar-audit-heads-<ns>`` one head per stream.

A record is written with ``op_type: create`` under the id ``<stream>:<seq>``, so each place in a chain can
be taken once: a second write of the identical record (a retried activity) is recognised by its hash, a
different record at a taken place is an :class:`~soar.errors.AuditError`. The head document of a stream
(its last seq and hash) only moves forward, by compare-and-set on ``_seq_no``; it is the anchor that lets
verification see records deleted from the end of a chain.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError, ConflictError, NotFoundError
from pydantic import ValidationError

from soar.audit.models import AuditBatch, AuditRecord, StreamHead, doc_id, same_event, same_step
from soar.engines.search import SearchClient, search_error
from soar.errors import AuditError, SearchError

_KEYWORD = {"type": "keyword"}
_HEAD_RETRIES = 20


def audit_index(namespace: str) -> str:
    """The index of a namespace's audit records."""
    return f"soar-audit-{namespace}"


def heads_index(namespace: str) -> str:
    """The index of a namespace's stream heads (one document per stream, id = stream)."""
    return f"soar-audit-heads-{namespace}"


def audit_templates() -> dict[str, dict[str, Any]]:
    """The index templates of both audit indices: explicit mappings, ``dynamic: false``."""
    record = {
        "stream": _KEYWORD,
        "seq": {"type": "long"},
        "at": {"type": "date"},
        "actor": _KEYWORD,
        "action": _KEYWORD,
        "subject": _KEYWORD,
        "input_hash": _KEYWORD,
        "prev_hash": _KEYWORD,
        "hash": _KEYWORD,
        "result": {"type": "object", "enabled": False},  # kept in _source, never indexed
    }
    head = {"stream": _KEYWORD, "seq": {"type": "long"}, "hash": _KEYWORD}
    return {
        "soar-audit": _template(["soar-audit-*"], record, priority=210),
        # More specific than soar-audit-*, so it wins for the heads indices.
        "soar-audit-heads": _template(["soar-audit-heads-*"], head, priority=220),
    }


def _template(patterns: list[str], properties: dict[str, Any], priority: int) -> dict[str, Any]:
    mappings = {"dynamic": False, "properties": properties}
    return {"index_patterns": patterns, "template": {"mappings": mappings}, "priority": priority}


async def ensure_audit_indices(client: SearchClient, namespace: str) -> None:
    """Install the templates and create both indices of the namespace (idempotent, race-safe)."""
    try:
        for name, body in audit_templates().items():
            await client.es.indices.put_index_template(name=name, **body)
        for index in (audit_index(namespace), heads_index(namespace)):
            if not await client.es.indices.exists(index=index):
                await client.es.indices.create(index=index)
    except ApiError as exc:
        if "resource_already_exists" not in str(exc):  # another worker created it first
            raise search_error(exc, "creating the audit indices") from None


def parse_record(source: dict[str, Any], where: str) -> AuditRecord:
    """A stored record, or an AuditError naming the document and the first bad field."""
    try:
        return AuditRecord.model_validate(source)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "document"
        raise AuditError(f"{where}: malformed audit record: {field}: {first['msg']}") from None


async def get_record(client: SearchClient, namespace: str, stream: str, seq: int) -> AuditRecord | None:
    """Record ``seq`` of a stream (a real-time get), or None."""
    where = doc_id(stream, seq)
    try:
        response = await client.es.get(index=audit_index(namespace), id=where)
    except NotFoundError:
        return None
    except ApiError as exc:
        raise search_error(exc, f"reading audit record {where}") from None
    return parse_record(response["_source"], where)


async def place_record(client: SearchClient, namespace: str, record: AuditRecord) -> AuditRecord | None:
    """Write a record at its place if free; None when written now, else the record that holds the place."""
    try:
        await client.es.index(
            index=audit_index(namespace),
            id=record.doc_id,
            document=record.model_dump(mode="json"),
            op_type="create",
            refresh="wait_for",
        )
    except ConflictError:
        stored = await get_record(client, namespace, record.stream, record.seq)
        if stored is None:  # deleted between our write and our read: someone is tampering right now
            raise AuditError(f"{record.doc_id}: audit record vanished while being written") from None
        return stored
    except ApiError as exc:
        raise search_error(exc, f"writing audit record {record.doc_id}") from None
    return None


async def create_record(client: SearchClient, namespace: str, record: AuditRecord) -> bool:
    """Write a record at its place; True if written now, False if the identical record was there.

    Raises:
        AuditError: a different record already holds this place.
        SearchError: the search engine failed.
    """
    stored = await place_record(client, namespace, record)
    if stored is None:
        return True
    if stored.hash == record.hash:
        return False
    raise AuditError(
        f"{record.doc_id}: a different audit record already holds this place (another writer on the stream)"
    )


async def place_chain(
    client: SearchClient, namespace: str, batch: AuditBatch
) -> tuple[list[AuditRecord], bool]:
    """Chain the batch's entries onto its stream after ``batch.after_seq`` in one bulk request.

    A place holding the same event (see :func:`~soar.audit.models.same_event`) is taken as written; in a
    batch of ``own_attempts``, a place holding another one is kept and the rest go after the stream's end.

    Returns:
        The records as stored, and whether any was written now.

    Raises:
        AuditError: a place holds a different record, or record ``after_seq`` is not the one the batch names.
        SearchError: the search engine failed, or another attempt wrote a place between read and write (a
            retry reads again).
    """
    first = batch.after_seq + 1
    seqs = range(
        first if batch.linked or batch.after_seq == 0 else batch.after_seq, first + len(batch.entries)
    )
    stored = await _get_records(client, namespace, batch.stream, list(seqs))
    if not batch.linked and batch.after_seq:
        before = stored.get(batch.after_seq)
        if before is None or before.hash != batch.after_hash:
            found = "missing" if before is None else "a different record"
            raise AuditError(
                f"{batch.stream}: record {batch.after_seq} is {found}; cannot chain record {first}"
            )
    records: list[AuditRecord] = []
    fresh: list[AuditRecord] = []
    prev = batch.after_hash
    for seq, entry in enumerate(batch.entries, start=first):
        placed = entry.model_copy(update={"stream": batch.stream, "seq": seq, "prev_hash": prev})
        held = stored.get(seq)
        if held is not None and not same_event(held, placed):
            if batch.own_attempts:  # an earlier attempt's record: it stays, this attempt's go after the end
                if fresh:
                    await _create_all(client, namespace, fresh)
                later, created = await _chain_after_head(client, namespace, batch, seq - first)
                return records + later, bool(fresh) or created
            raise AuditError(
                f"{doc_id(batch.stream, seq)}: a different audit record already holds this place (another "
                "writer on the stream)"
            )
        record = held or placed.sealed()
        if held is None:
            fresh.append(record)
        records.append(record)
        prev = record.hash
    if fresh:
        await _create_all(client, namespace, fresh)
    return records, bool(fresh)


async def _chain_after_head(
    client: SearchClient, namespace: str, batch: AuditBatch, start: int
) -> tuple[list[AuditRecord], bool]:
    """The batch's entries from ``start`` on, chained after the stream's last stored record.

    If the stream already ends with those steps, this batch was chained so before (a retried activity).
    """
    head = await stream_head(client, namespace, batch.stream)
    entries = batch.entries[start:]
    if head.seq >= len(entries):
        tail = await _get_records(
            client, namespace, batch.stream, list(range(head.seq - len(entries) + 1, head.seq + 1))
        )
        ordered = [tail[seq] for seq in sorted(tail)]
        if len(ordered) == len(entries) and all(map(same_step, ordered, entries)):
            return ordered, False
    rest = batch.model_copy(
        update={"after_seq": head.seq, "after_hash": head.hash, "entries": entries, "linked": True}
    )
    return await place_chain(client, namespace, rest)


async def _get_records(
    client: SearchClient, namespace: str, stream: str, seqs: list[int]
) -> dict[int, AuditRecord]:
    """The stream's records at these places that exist (real-time gets)."""
    try:
        response = await client.es.mget(index=audit_index(namespace), ids=[doc_id(stream, q) for q in seqs])
    except NotFoundError:
        return {}
    except ApiError as exc:
        raise search_error(exc, f"reading audit records of {stream}") from None
    found = [parse_record(doc["_source"], doc["_id"]) for doc in response["docs"] if doc.get("found")]
    return {record.seq: record for record in found}


async def _create_all(client: SearchClient, namespace: str, records: list[AuditRecord]) -> None:
    operations: list[dict[str, Any]] = []
    for record in records:
        operations += [{"create": {"_id": record.doc_id}}, record.model_dump(mode="json")]
    try:
        response = await client.es.bulk(
            index=audit_index(namespace), operations=operations, refresh="wait_for"
        )
    except ApiError as exc:
        raise search_error(exc, f"writing audit records of {records[0].stream}") from None
    for record, item in zip(records, response["items"], strict=True):
        outcome = item["create"]
        status = int(outcome.get("status", 500))
        if status == 409:
            raise SearchError(f"{record.doc_id}: written by another attempt meanwhile; read again")
        if status >= 300:
            reason = (outcome.get("error") or {}).get("reason", f"status {status}")
            raise SearchError(f"writing audit record {record.doc_id}: {reason}")


async def latest_record(client: SearchClient, namespace: str, stream: str) -> AuditRecord | None:
    """The stream's record with the highest seq, by search (may lag the newest writes on Elasticsearch)."""
    try:
        response = await client.es.search(
            index=audit_index(namespace),
            query={"term": {"stream": stream}},
            sort=[{"seq": "desc"}],
            size=1,
        )
    except NotFoundError:
        return None
    except ApiError as exc:
        raise search_error(exc, f"reading the last audit record of {stream}") from None
    hits = response["hits"]["hits"]
    return parse_record(hits[0]["_source"], hits[0]["_id"]) if hits else None


async def stream_head(client: SearchClient, namespace: str, stream: str) -> StreamHead:
    """The stream's last record as stored now: the search's answer, then real-time gets past it."""
    last = await latest_record(client, namespace, stream)
    head = (
        StreamHead(stream=stream) if last is None else StreamHead(stream=stream, seq=last.seq, hash=last.hash)
    )
    # A search sees only refreshed documents on Elasticsearch; gets are real time.
    while (newer := await get_record(client, namespace, stream, head.seq + 1)) is not None:
        head = StreamHead(stream=stream, seq=newer.seq, hash=newer.hash)
    return head


async def read_head(client: SearchClient, namespace: str, stream: str) -> StreamHead | None:
    """The stream's anchor document, or None."""
    head, _ = await _read_head(client, namespace, stream)
    return head


async def _read_head(
    client: SearchClient, namespace: str, stream: str
) -> tuple[StreamHead | None, tuple[int, int] | None]:
    try:
        response = await client.es.get(index=heads_index(namespace), id=stream)
    except NotFoundError:
        return None, None
    except ApiError as exc:
        raise search_error(exc, f"reading the audit head of {stream}") from None
    try:
        head = StreamHead.model_validate(response["_source"])
    except ValidationError:
        head = StreamHead(stream=stream, seq=-1)  # a damaged anchor is overwritten; verify reports it first
    return head, (int(response["_seq_no"]), int(response["_primary_term"]))


async def advance_head(
    client: SearchClient, namespace: str, record: AuditRecord, *, new_stream: bool = False
) -> None:
    """Move the stream's head to this record unless it already stands there or further on.

    ``new_stream``: the stream most likely has no head yet, so creating it is tried before reading it.
    """
    new = StreamHead(stream=record.stream, seq=record.seq, hash=record.hash).model_dump(mode="json")
    if new_stream and await _create_head(client, namespace, record.stream, new):
        return
    for _ in range(_HEAD_RETRIES):
        head, version = await _read_head(client, namespace, record.stream)
        if head is not None and head.seq >= record.seq:
            return  # a late retry of an older record never moves the anchor back
        condition: dict[str, Any] = {"op_type": "create"}
        if version is not None:
            condition = {"if_seq_no": version[0], "if_primary_term": version[1]}
        try:
            await client.es.index(
                index=heads_index(namespace), id=record.stream, document=new, refresh="wait_for", **condition
            )
        except ConflictError:
            continue  # another writer moved it in between: read again
        except ApiError as exc:
            raise search_error(exc, f"writing the audit head of {record.stream}") from None
        return
    raise AuditError(f"{record.stream}: the audit head kept changing; gave up after {_HEAD_RETRIES} attempts")


async def _create_head(client: SearchClient, namespace: str, stream: str, head: dict[str, Any]) -> bool:
    """Create the stream's head document; False if it exists already."""
    try:
        await client.es.index(
            index=heads_index(namespace), id=stream, document=head, refresh="wait_for", op_type="create"
        )
    except ConflictError:
        return False
    except ApiError as exc:
        raise search_error(exc, f"writing the audit head of {stream}") from None
    return True
