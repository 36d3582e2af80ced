"""Payment application logs: the documented schema, MFA, PSD2 consent, fixtures, robustness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soar.errors import NormalisationError
from soar.telemetry.normalise import DeadLetter, Normalised, normalise_lines, normalise_record
from soar.telemetry.normalisers.app import normalise
from tests.unit.telemetry.fuzzing import (
    FUZZ,
    JSON_VALUES_WITH_NAN,
    ONE_LINERS,
    assert_non_blank_lines_numbered,
    assert_only_normalisation_errors,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "telemetry" / "app"

PAYMENT: dict[str, Any] = {
    "ts": "2026-03-02T10:15:02.395+01:00",
    "level": "WARN",
    "service": "payments",
    "msg": "payment.rejected",
    "transaction_id": "TX-20260302-000191",
    "amount": 250000.0,
    "currency": "EUR",
    "channel": "web",
    "customer_id": "CUST-220918",
    "customer_country": "NL",
    "tpp_client_id": None,
    "consent_id": None,
    "consent_scope": None,
    "outcome": "failure",
    "error_code": "MFA_REQUIRED",
    "mfa": False,
    "risk_score": 0.91,
    "approval": {"required": True, "approvers": ["a.schmidt"]},
    "user_id": "u-220918",
    "source_ip": "2001:db8:4:1::17",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "http_status": 403,
    "latency_ms": 33.5,
}


def _doc(**changes: Any) -> dict[str, Any]:
    return normalise_record("app", json.dumps({**PAYMENT, **changes}))


def test_rejected_payment_without_mfa() -> None:
    doc = _doc()
    assert doc["@timestamp"] == "2026-03-02T09:15:02.395Z"
    assert doc["event"]["module"] == "payments"
    assert doc["event"]["dataset"] == "payments.transaction"
    assert doc["event"]["category"] == ["web"]
    assert doc["event"]["type"] == ["denied"]
    assert doc["event"]["action"] == "payment.rejected"
    assert doc["event"]["outcome"] == "failure"
    assert doc["event"]["duration"] == 33_500_000
    assert doc["log"]["level"] == "warn"
    assert doc["service"]["name"] == "payments"
    assert doc["transaction"]["id"] == "TX-20260302-000191"
    assert doc["trace"]["id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert doc["user"] == {"id": "u-220918", "name": "u-220918"}
    assert doc["source"] == {"ip": "2001:db8:4:1::17", "geo": {"country_iso_code": "NL"}}
    assert doc["http"]["response"]["status_code"] == 403
    assert doc["error"]["code"] == "MFA_REQUIRED"
    payment = doc["payment"]
    assert payment["amount"] == 250000.0
    assert payment["mfa"] is False
    assert payment["risk_score"] == pytest.approx(0.91)
    assert payment["approval"] == {"required": True, "approvers": ["a.schmidt"], "count": 1}
    assert payment["customer_country"] == "NL"
    assert "tpp_client_id" not in payment


def test_initiated_payment_with_mfa_is_pending() -> None:
    doc = _doc(msg="payment.initiated", outcome="pending", mfa=True, error_code=None, level="INFO")
    assert doc["event"]["type"] == ["start"]
    assert doc["event"]["outcome"] == "unknown"
    assert doc["payment"]["mfa"] is True
    assert doc["payment"]["outcome"] == "pending"
    assert "error" not in doc


def test_psd2_tpp_call_with_consent_scope() -> None:
    doc = _doc(
        service="psd2-gateway",
        msg="consent.used",
        channel="psd2_api",
        tpp_client_id="PSDDE-BAFIN-123456",
        consent_id="CNS-8f2a61",
        consent_scope=["accounts", "balances"],
        outcome="success",
        amount=None,
        mfa=None,
        approval=None,
    )
    assert doc["event"]["type"] == ["access"]
    assert doc["event"]["outcome"] == "success"
    payment = doc["payment"]
    assert payment["tpp_client_id"] == "PSDDE-BAFIN-123456"
    assert payment["consent_id"] == "CNS-8f2a61"
    assert payment["consent_scope"] == ["accounts", "balances"]
    assert payment["channel"] == "psd2_api"
    assert "mfa" not in payment
    assert "approval" not in payment


def test_unknown_fields_kept_under_payment() -> None:
    doc = _doc(tpp_name="FinLeap Budget", device={"os": "iOS"})
    assert doc["payment"]["tpp_name"] == "FinLeap Budget"
    assert doc["payment"]["device"] == {"os": "iOS"}


def test_unknown_message_is_info() -> None:
    assert _doc(msg="payment.reversed")["event"]["type"] == ["info"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ts": None}, "ts"),
        ({"ts": "2026-13-02T00:00:00Z"}, "ts"),
        ({"msg": 5}, "msg"),
        ({"amount": "12.50"}, "amount"),
        ({"amount": True}, "amount"),
        ({"risk_score": 1.5}, "risk_score"),
        ({"mfa": "yes"}, "mfa"),
        ({"source_ip": "999.1.1.1"}, "source_ip"),
        ({"consent_scope": "accounts"}, "consent_scope"),
        ({"approval": {"required": True, "approvers": "a"}}, "approval.approvers"),
        ({"approval": []}, "approval"),
        ({"http_status": "200"}, "http_status"),
        ({"http_status": 10**6}, "http_status"),
        ({"amount": 1e300}, "amount"),
        ({"currency": 978}, "currency"),
    ],
)
def test_bad_records_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(NormalisationError) as info:
        _doc(**changes)
    assert info.value.field == field


def _run(name: str) -> list[Normalised | DeadLetter]:
    path = FIXTURES / name
    return list(normalise_lines("app", path.read_text("utf-8").splitlines(), file=str(path)))


def test_fixture_files() -> None:
    good = _run("payments.jsonl")
    assert [(type(r), r.line) for r in good] == [(Normalised, n) for n in range(1, 7)]
    actions = [r.document["event"]["action"] for r in good if isinstance(r, Normalised)]
    assert actions[:4] == ["payment.initiated", "payment.authorized", "payment.completed", "payment.rejected"]
    bad = _run("bad.jsonl")
    assert all(isinstance(r, DeadLetter) and r.error for r in bad)
    assert [r.line for r in bad] == [1, 2, 3, 4, 5, 7, 8]


@FUZZ
@given(st.text(max_size=300))
def test_random_text_only_raises_normalisation_error(raw: str) -> None:
    assert_only_normalisation_errors(normalise, raw)


@FUZZ
@given(st.dictionaries(st.text(max_size=12), JSON_VALUES_WITH_NAN, max_size=6))
def test_random_json_objects_only_raise_normalisation_error(obj: dict[str, Any]) -> None:
    assert_only_normalisation_errors(normalise, json.dumps(obj))


@FUZZ
@given(st.sampled_from(sorted(PAYMENT)), JSON_VALUES_WITH_NAN | st.just(...))
def test_mutated_valid_events_only_raise_normalisation_error(key: str, value: Any) -> None:
    event = {**PAYMENT, key: value}
    assert_only_normalisation_errors(normalise, json.dumps({k: v for k, v in event.items() if v is not ...}))


@FUZZ
@given(ONE_LINERS)
def test_every_bad_line_is_a_dead_letter_with_its_line(lines: list[str]) -> None:
    results = list(normalise_lines("app", lines))
    assert_non_blank_lines_numbered(results, lines)
