"""Audit records: canonical hashing (golden value), inputs kept only as hashes, results never secrets."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from soar.audit.models import AuditAction, AuditEntry, AuditRecord, canonical_json, doc_id, input_hash

GOLDEN_JSON = (
    '{"action":"action.applied","actor":"soar:containment","at":"2025-03-01T08:30:15.123456Z",'
    f'"input_hash":"{"a" * 64}","prev_hash":"{"b" * 64}",'
    '"result":{"n":2,"outcome":"applied","system":"keycloak","ü":[true,null]},'
    '"seq":2,"stream":"containment-INC-1-disable_user-1a2b3c4d","subject":"disable_user-1a2b3c4d"}'
)
GOLDEN_HASH = "edf9d58cd9667a1cef16eb90d220ec4722e56fe7932975f20ee1e8a970df16a1"


def _entry(**changes: Any) -> AuditEntry:
    fields: dict[str, Any] = {
        "stream": "containment-INC-1-disable_user-1a2b3c4d",
        "seq": 2,
        # 09:30 at UTC+1: stored and hashed as 08:30Z.
        "at": datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1))),
        "actor": "soar:containment",
        "action": "action.applied",
        "subject": "disable_user-1a2b3c4d",
        "input_hash": "a" * 64,
        # Keys in no particular order: canonical JSON sorts them.
        "result": {"system": "keycloak", "outcome": "applied", "ü": [True, None], "n": 2},
        "prev_hash": "b" * 64,
    }
    return AuditEntry(**{**fields, **changes})


def test_hash_is_sha256_of_the_canonical_json_golden_value() -> None:
    entry = _entry()
    assert canonical_json(entry.fields()).decode() == GOLDEN_JSON
    assert hashlib.sha256(GOLDEN_JSON.encode()).hexdigest() == GOLDEN_HASH
    assert entry.compute_hash() == GOLDEN_HASH
    assert entry.sealed().hash == GOLDEN_HASH


def test_hash_survives_the_round_trip_through_stored_json() -> None:
    record = _entry().sealed()
    stored = record.model_dump(mode="json")
    assert stored["at"] == "2025-03-01T08:30:15.123456Z"
    again = AuditRecord.model_validate(stored)
    assert again == record
    assert again.compute_hash() == record.hash
    assert record.doc_id == "containment-INC-1-disable_user-1a2b3c4d:00000002"


def test_the_same_instant_in_another_offset_hashes_the_same() -> None:
    utc = _entry(at=datetime(2025, 3, 1, 8, 30, 15, 123456, tzinfo=UTC))
    assert utc.compute_hash() == GOLDEN_HASH


def test_an_action_from_the_vocabulary_hashes_as_its_string() -> None:
    assert _entry(action=AuditAction.ACTION_APPLIED).compute_hash() == GOLDEN_HASH


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stream", "containment-INC-2-disable_user-1a2b3c4d"),
        ("seq", 3),
        ("at", datetime(2025, 3, 1, 8, 30, 15, 123457, tzinfo=UTC)),
        ("actor", "alice"),
        ("action", "action.reverted"),
        ("subject", "disable_user-ffffffff"),
        ("input_hash", "c" * 64),
        ("result", {"system": "keycloak", "outcome": "already_applied", "ü": [True, None], "n": 2}),
        ("prev_hash", "d" * 64),
    ],
)
def test_every_field_is_covered_by_the_hash(field: str, value: Any) -> None:
    assert _entry(**{field: value}).compute_hash() != GOLDEN_HASH


class _Disable(BaseModel):
    user: str
    password: str


def test_input_is_recorded_only_as_its_hash() -> None:
    spec = _Disable(user="jürgen.schmidt@bank.example", password="hunter2-s3cret")
    digest = input_hash(spec)
    assert digest == hashlib.sha256(canonical_json(spec.model_dump(mode="json"))).hexdigest()
    assert digest == input_hash({"password": "hunter2-s3cret", "user": "jürgen.schmidt@bank.example"})
    record = _entry(input_hash=digest, result={"outcome": "applied"}).sealed()
    stored = canonical_json(record.model_dump(mode="json")).decode()
    assert "hunter2" not in stored
    assert "jürgen" not in stored
    assert input_hash(None) == ""
    with pytest.raises(ValidationError):
        AuditEntry.model_validate({**_entry().fields(), "input": spec.model_dump()})  # no field for it


@pytest.mark.parametrize(
    "result",
    [
        {"password": "x"},
        {"detail": {"api_key": "x"}},
        {"calls": [{"Authorization": "Bearer x"}]},
        {"client_secret": "x"},
        {"access_token": "x"},
    ],
)
def test_results_naming_a_credential_are_refused(result: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="never holds a credential"):
        _entry(result=result)


def test_results_are_short_summaries() -> None:
    with pytest.raises(ValidationError, match="short summary"):
        _entry(result={"detail": "x" * 9000})
    with pytest.raises(ValidationError):
        _entry(result={"ratio": float("nan")})


@pytest.mark.parametrize(
    ("field", "value"),
    [("action", "Applied"), ("action", "applied"), ("seq", 0), ("prev_hash", "xyz"), ("stream", "a b")],
)
def test_invalid_fields_are_refused(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        _entry(**{field: value})


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValidationError):
        _entry(at=datetime(2025, 3, 1, 8, 30))


def test_document_ids_sort_by_seq_within_a_stream() -> None:
    assert doc_id("cli", 7) == "cli:00000007"
    assert sorted(doc_id("s", n) for n in (10, 9, 100)) == ["s:00000009", "s:00000010", "s:00000100"]
