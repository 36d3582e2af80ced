"""The chain check on stored records: every kind of tampering is found and named, at the right seq."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from soar.audit.models import AuditEntry, AuditRecord, StreamHead
from soar.audit.verify import Verifier, VerifyReport

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def _chain(stream: str, n: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for seq in range(1, n + 1):
        entry = AuditEntry(
            stream=stream,
            seq=seq,
            at=T0 + timedelta(minutes=seq),
            actor="soar:containment",
            action="action.proposed" if seq == 1 else "approval.granted",
            subject="disable_user-1a2b3c4d",
            result={"step": seq},
            prev_hash=records[-1].hash if records else "",
        )
        records.append(entry.sealed())
    return records


def _hit(record: AuditRecord, **source_changes: Any) -> dict[str, Any]:
    return {"_id": record.doc_id, "_source": {**record.model_dump(mode="json"), **source_changes}}


def _head(records: list[AuditRecord]) -> StreamHead:
    return StreamHead(stream=records[-1].stream, seq=records[-1].seq, hash=records[-1].hash)


def _check(hits: list[dict[str, Any]], heads: list[StreamHead]) -> VerifyReport:
    verifier = Verifier({h.stream: h for h in heads})
    for hit in hits:
        verifier.feed(hit)
    return verifier.finish()


def _only_broken(report: VerifyReport) -> tuple[str, int | None, str]:
    [broken] = report.broken
    return broken.stream, broken.broken_seq, broken.reason


def test_intact_chains_verify() -> None:
    a, b = _chain("incident-INC-1", 5), _chain("cli", 3)
    report = _check([_hit(r) for r in b + a], [_head(a), _head(b)])
    assert report.ok
    assert (report.streams, report.records, report.unanchored) == (2, 8, [])


def test_an_edited_field_is_a_hash_mismatch() -> None:
    a = _chain("incident-INC-1", 5)
    hits = [_hit(r) for r in a]
    hits[2] = _hit(a[2], actor="mallory")
    assert _only_broken(_check(hits, [_head(a)])) == (
        "incident-INC-1",
        3,
        "hash mismatch: the record was edited",
    )


def test_an_edited_result_is_a_hash_mismatch() -> None:
    a = _chain("s", 4)
    hits = [_hit(r) for r in a]
    hits[3] = _hit(a[3], result={"step": 99})
    assert _only_broken(_check(hits, [_head(a)]))[1:] == (4, "hash mismatch: the record was edited")


def test_a_deleted_middle_record_is_a_gap() -> None:
    a = _chain("s", 6)
    hits = [_hit(r) for r in a]
    del hits[2:4]
    assert _only_broken(_check(hits, [_head(a)])) == ("s", 3, "seq 3-4 missing: records were deleted")


def test_a_deleted_tail_is_seen_by_the_head_anchor() -> None:
    a = _chain("s", 6)
    hits = [_hit(r) for r in a[:4]]
    stream, seq, reason = _only_broken(_check(hits, [_head(a)]))
    assert (stream, seq) == ("s", 5)
    assert "truncated" in reason
    assert "5-6 missing" in reason


def test_a_deleted_tail_without_its_anchor_goes_unseen_and_the_report_says_so() -> None:
    a = _chain("s", 6)
    report = _check([_hit(r) for r in a[:4]], [])
    assert report.ok  # what a chain alone cannot see: docs/audit.md says so
    assert report.unanchored == ["s"]


def test_a_stream_deleted_entirely_is_seen_by_its_anchor() -> None:
    a, b = _chain("a", 3), _chain("b", 2)
    report = _check([_hit(r) for r in b], [_head(a), _head(b)])
    assert _only_broken(report) == ("a", 1, "all 3 records are missing; the head anchor says 3: deleted")
    assert report.streams == 2


def test_reordered_records_rehashed_by_the_forger_break_the_links() -> None:
    a = _chain("s", 5)
    # Swap records 2 and 3 and make each self-consistent again: the forger knows the hash function.
    two = AuditRecord(**{**a[2].fields(), "seq": 2, "hash": "0" * 64})
    three = AuditRecord(**{**a[1].fields(), "seq": 3, "hash": "0" * 64})
    swapped = [AuditEntry(**r.fields()).sealed() for r in (two, three)]
    hits = [_hit(a[0]), *(_hit(r) for r in swapped), _hit(a[3]), _hit(a[4])]
    assert _only_broken(_check(hits, [_head(a)]))[1:] == (
        2,
        "prev_hash does not link to seq 1: reordered or inserted",
    )


def test_an_inserted_record_breaks_the_next_link() -> None:
    a = _chain("s", 4)
    forged = AuditEntry(**{**a[1].fields(), "actor": "mallory", "result": {"approved": True}}).sealed()
    # The forger replaces record 2 with a well-formed one linked to record 1: record 3 no longer links.
    hits = [_hit(a[0]), _hit(forged), _hit(a[2]), _hit(a[3])]
    assert _only_broken(_check(hits, [_head(a)]))[1:] == (
        3,
        "prev_hash does not link to seq 2: reordered or inserted",
    )


def test_a_fully_rechained_stream_is_caught_by_its_anchor() -> None:
    a = _chain("s", 3)
    forged: list[AuditRecord] = []
    for r in a:
        changes = {"prev_hash": forged[-1].hash if forged else "", "actor": "mallory"}
        forged.append(AuditEntry(**{**r.fields(), **changes}).sealed())
    stream, seq, reason = _only_broken(_check([_hit(r) for r in forged], [_head(a)]))
    assert (stream, seq) == ("s", 3)
    assert "head anchor" in reason


def test_a_record_moved_to_another_id_is_reported() -> None:
    a = _chain("s", 3)
    hits = [_hit(r) for r in a]
    hits[1] = {"_id": "s:00000042", "_source": hits[1]["_source"]}
    assert "moved or inserted" in _only_broken(_check(hits, [_head(a)]))[2]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"seq": "2"}, "seq: not a positive integer"),
        ({"note": "approved by phone"}, "unexpected note"),  # content the hash would not cover
        ({"hash": None}, "hash: not a string"),
    ],
)
def test_a_malformed_document_is_reported_with_its_field(changes: dict[str, Any], problem: str) -> None:
    a = _chain("s", 3)
    hits = [_hit(r) for r in a]
    hits[1] = _hit(a[1], **changes)
    assert _only_broken(_check(hits, [_head(a)])) == (
        "s",
        2,
        f"malformed audit record: {problem} (edited outside soar)",
    )


def test_a_missing_field_is_malformed() -> None:
    a = _chain("s", 2)
    hits = [_hit(r) for r in a]
    del hits[1]["_source"]["actor"]
    assert "missing actor" in _only_broken(_check(hits, [_head(a)]))[2]


def test_the_stored_bytes_are_hashed_so_even_a_same_instant_rewrite_shows() -> None:
    a = _chain("s", 2)
    hits = [_hit(r) for r in a]
    hits[1] = _hit(a[1], at=hits[1]["_source"]["at"].replace(".000000Z", "+00:00"))
    assert _only_broken(_check(hits, [_head(a)]))[1:] == (2, "hash mismatch: the record was edited")


def test_only_the_first_break_of_a_stream_is_reported_and_others_stay_ok() -> None:
    a, b = _chain("a", 5), _chain("b", 5)
    hits = [_hit(r) for r in a] + [_hit(r) for r in b]
    hits[1] = _hit(a[1], actor="x")
    hits[3] = _hit(a[3], actor="y")
    report = _check(hits, [_head(a), _head(b)])
    assert _only_broken(report)[:2] == ("a", 2)
    assert report.broken[0].records == 5
    assert report.records == 10


def test_a_head_lagging_behind_its_chain_is_not_a_break() -> None:
    a = _chain("s", 5)
    # A crash between writing record 5 and moving the head; the next append moves it.
    lagging = StreamHead(stream="s", seq=4, hash=a[3].hash)
    assert _check([_hit(r) for r in a], [lagging]).ok
