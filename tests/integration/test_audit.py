"""The audit trail on the embedded search engine: appends, retries, concurrent writers, tampering found."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from temporalio.exceptions import ApplicationError

from soar.audit.activities import AuditActivities
from soar.audit.direct import append_direct
from soar.audit.models import AuditBatch, AuditEntry, HeadQuery, input_hash
from soar.audit.store import audit_index, heads_index, read_head
from soar.audit.verify import verify
from soar.engines.search import SearchClient
from soar.errors import AuditError

pytestmark = pytest.mark.engines

NS = "default"
STREAM = "containment-INC-20250301-0001-disable_user-1a2b3c4d"


async def _count(search: SearchClient, stream: str) -> int:
    await search.es.indices.refresh(index=audit_index(NS))
    response = await search.es.count(index=audit_index(NS), query={"term": {"stream": stream}})
    return int(response["count"])


def _entry(seq: int, prev_hash: str, action: str = "approval.granted") -> AuditEntry:
    return AuditEntry(
        stream=STREAM,
        seq=seq,
        at=datetime(2025, 3, 1, 8, seq, tzinfo=UTC),
        actor="soar:containment",
        action=action,
        subject="disable_user-1a2b3c4d",
        input_hash=input_hash({"step": seq}),
        result={"step": seq},
        prev_hash=prev_hash,
    )


async def _activity_chain(search: SearchClient, n: int) -> list[str]:
    activities = AuditActivities(search, NS)
    hashes: list[str] = []
    for seq in range(1, n + 1):
        receipt = await activities.append(_entry(seq, hashes[-1] if hashes else ""))
        assert (receipt.seq, receipt.created) == (seq, True)
        hashes.append(receipt.hash)
    return hashes


async def test_appended_records_verify_and_the_head_follows(search: SearchClient) -> None:
    hashes = await _activity_chain(search, 5)
    for n in range(3):
        await append_direct(
            search, NS, actor="alice", action="incident.updated", subject="INC-1", result={"n": n}
        )
    report = await verify(search, NS)
    assert report.ok, report.broken
    assert (report.streams, report.records, report.unanchored) == (2, 8, [])
    head = await read_head(search, NS, STREAM)
    assert head is not None
    assert (head.seq, head.hash) == (5, hashes[-1])
    found = await AuditActivities(search, NS).head(HeadQuery(stream=STREAM))
    assert (found.seq, found.hash) == (5, hashes[-1])
    assert (await verify(search, NS, stream="cli")).records == 3


async def test_a_retried_append_writes_nothing_and_a_different_record_is_refused(
    search: SearchClient,
) -> None:
    hashes = await _activity_chain(search, 2)
    activities = AuditActivities(search, NS)
    again = await activities.append(_entry(2, hashes[0]))
    assert (again.seq, again.hash, again.created) == (2, hashes[1], False)
    assert await _count(search, STREAM) == 2
    with pytest.raises(ApplicationError) as refused:
        await activities.append(_entry(2, hashes[0], action="approval.refused"))
    assert (refused.value.type, refused.value.non_retryable) == ("AuditError", True)
    with pytest.raises(ApplicationError, match="record 2 is a different record") as unlinked:
        await activities.append(_entry(3, "f" * 64))
    assert unlinked.value.non_retryable
    assert await _count(search, STREAM) == 2
    assert (await verify(search, NS)).ok


async def test_concurrent_direct_appends_to_one_stream_stay_contiguous(search: SearchClient) -> None:
    async def writer(name: str) -> list[int]:
        seqs = []
        for n in range(8):
            record = await append_direct(
                search, NS, actor=name, action="incident.updated", subject="INC-7", result={"n": n}
            )
            seqs.append(record.seq)
        return seqs

    results = await asyncio.gather(*(writer(f"analyst-{i}") for i in range(5)))
    seqs = sorted(s for r in results for s in r)
    assert seqs == list(range(1, 41))
    assert all(r == sorted(r) for r in results)  # each writer's records in its own order
    report = await verify(search, NS, stream="cli")
    assert report.ok, report.broken
    assert report.records == 40
    head = await read_head(search, NS, "cli")
    assert head is not None
    assert head.seq == 40


async def test_tampering_through_the_client_is_found(search: SearchClient) -> None:
    await _activity_chain(search, 6)
    await append_direct(search, NS, actor="alice", action="incident.updated", subject="INC-1")
    index = audit_index(NS)
    await search.es.update(index=index, id=f"{STREAM}:00000003", doc={"actor": "mallory"}, refresh=True)
    [broken] = (await verify(search, NS)).broken
    assert (broken.stream, broken.broken_seq) == (STREAM, 3)
    assert "edited" in broken.reason
    await search.es.update(
        index=index, id=f"{STREAM}:00000003", doc={"actor": "soar:containment"}, refresh=True
    )
    assert (await verify(search, NS)).ok
    await search.es.delete(index=index, id=f"{STREAM}:00000006", refresh=True)
    await search.es.delete(index=index, id=f"{STREAM}:00000005", refresh=True)
    report = await verify(search, NS)
    [broken] = report.broken
    assert (broken.stream, broken.broken_seq) == (STREAM, 5)
    assert "truncated" in broken.reason
    assert report.streams == 2
    await search.es.delete(index=index, id=f"{STREAM}:00000002", refresh=True)
    [broken] = (await verify(search, NS, stream=STREAM)).broken
    assert (broken.broken_seq, broken.reason) == (2, "seq 2 missing: records were deleted")


async def test_deleting_the_tail_and_its_anchor_is_reported_as_unanchored(search: SearchClient) -> None:
    await _activity_chain(search, 3)
    await search.es.delete(index=audit_index(NS), id=f"{STREAM}:00000003", refresh=True)
    await search.es.delete(index=heads_index(NS), id=STREAM, refresh=True)
    report = await verify(search, NS)
    assert report.ok  # the limit of an anchor kept beside the chain: docs/audit.md
    assert report.unanchored == [STREAM]


async def test_paging_covers_many_streams_and_records(search: SearchClient) -> None:
    activities = AuditActivities(search, NS)
    for s in range(7):
        prev = ""
        for seq in range(1, 4):
            entry = _entry(seq, prev).model_copy(update={"stream": f"alert-{s:04d}"})
            prev = (await activities.append(entry)).hash
    report = await verify(search, NS, page=2)  # pages end inside streams and between them
    assert report.ok, report.broken
    assert (report.streams, report.records) == (7, 21)


async def test_an_empty_namespace_verifies_as_nothing(search: SearchClient) -> None:
    report = await verify(search, "nothing-here")
    assert report.ok
    assert (report.streams, report.records) == (0, 0)


async def test_a_malformed_stored_record_stops_direct_appends_with_one_line(search: SearchClient) -> None:
    await append_direct(search, NS, actor="alice", action="incident.updated")
    await search.es.update(index=audit_index(NS), id="cli:00000001", doc={"hash": "not-a-hash"}, refresh=True)
    with pytest.raises(AuditError, match=r"cli:00000001: malformed audit record: hash"):
        await append_direct(search, NS, actor="alice", action="incident.updated")


async def test_a_batch_of_own_attempts_goes_after_what_an_earlier_attempt_stored(
    search: SearchClient,
) -> None:
    """A local activity's workflow task ran twice: the first attempt's records stay, the second's follow."""
    activities = AuditActivities(search, NS)

    def batch(*entries: AuditEntry) -> AuditBatch:
        return AuditBatch(stream=STREAM, after_seq=0, entries=list(entries), own_attempts=True)

    first = await activities.append_batch(batch(_entry(1, ""), _entry(2, "")))
    assert (first.seq, first.created) == (2, True)
    # The next attempt told the same first step and another second one.
    retry = batch(_entry(1, ""), _entry(2, "", action="approval.refused"))
    second = await activities.append_batch(retry)
    assert (second.seq, second.created) == (3, True)
    again = await activities.append_batch(retry)  # that activity retried after its write
    assert (again.seq, again.hash, again.created) == (3, second.hash, False)
    assert await _count(search, STREAM) == 3
    report = await verify(search, NS, stream=STREAM)
    assert report.ok, report.broken
    head = await read_head(search, NS, STREAM)
    assert head is not None
    assert (head.seq, head.hash) == (3, second.hash)
    # Without own_attempts a different record at a taken place is still refused.
    with pytest.raises(ApplicationError) as refused:
        await activities.append_batch(retry.model_copy(update={"own_attempts": False}))
    assert (refused.value.type, refused.value.non_retryable) == ("AuditError", True)
