"""Keycloak normaliser: user and admin events, log-line formats, fixtures, robustness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soar.errors import NormalisationError
from soar.telemetry.ecs import EcsDocument
from soar.telemetry.normalise import DeadLetter, Normalised, normalise_lines, normalise_record
from soar.telemetry.normalisers.keycloak import normalise
from soar.telemetry.sources import Source
from soar.telemetry.templates import field_types
from tests.unit.telemetry.fuzzing import (
    FUZZ,
    GOOD_OR_JUNK,
    JSON_VALUES,
    assert_numbered,
    assert_only_normalisation_errors,
    mutated,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "telemetry" / "keycloak"
LINES = (FIXTURES / "events.jsonl").read_text("utf-8").splitlines()
EVENTS: list[dict[str, Any]] = [json.loads(line) for line in LINES]
USER = "3b0c6a52-8e1f-4f7a-9c2d-5e6f7a8b9c01"
ADMIN = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b02"


def _doc(index: int) -> dict[str, Any]:
    return normalise_record("keycloak", LINES[index])


def test_successful_login() -> None:
    doc = _doc(0)
    assert doc["@timestamp"] == "2025-03-04T08:00:00.123Z"
    event = doc["event"]
    assert (event["module"], event["dataset"], event["kind"]) == ("keycloak", "keycloak.event", "event")
    assert event["category"] == ["authentication", "session"]
    assert event["type"] == ["start"]
    assert event["action"] == "LOGIN"
    assert event["outcome"] == "success"
    assert event["id"] == "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a01"
    assert event["original"] == LINES[0]
    assert doc["user"] == {"id": USER, "name": "anna.schmidt"}
    assert doc["source"]["ip"] == "84.150.23.7"
    keycloak = doc["keycloak"]
    assert keycloak["realmId"] == "bank-customers"
    assert keycloak["clientId"] == "online-banking"
    assert keycloak["sessionId"] == "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c01"
    assert keycloak["time"] == 1741075200123
    assert keycloak["details"]["auth_method"] == "openid-connect"


def test_failed_login() -> None:
    doc = _doc(1)
    assert doc["event"]["action"] == "LOGIN_ERROR"
    assert doc["event"]["category"] == ["authentication", "session"]
    assert doc["event"]["outcome"] == "failure"
    assert doc["event"]["reason"] == "invalid_user_credentials"
    assert doc["keycloak"]["error"] == "invalid_user_credentials"
    assert doc["related"] == {"ip": ["185.220.101.45"], "user": ["anna.schmidt", USER]}


def test_admin_realm_role_grant() -> None:
    doc = _doc(2)
    event = doc["event"]
    assert event["action"] == "CREATE"
    assert event["category"] == ["iam"]
    assert event["type"] == ["creation", "admin"]
    assert event["outcome"] == "success"
    assert doc["user"] == {"id": ADMIN, "target": {"id": USER, "roles": ["payments-approver"]}}
    assert doc["source"]["ip"] == "10.1.2.3"
    keycloak = doc["keycloak"]
    assert keycloak["authDetails"]["clientId"] == "security-admin-console"
    assert keycloak["resourceType"] == "REALM_ROLE_MAPPING"
    assert keycloak["representation"] == {
        "items": [
            {
                "id": "c0ffee00-1111-4222-8333-444455556666",
                "name": "payments-approver",
                "composite": False,
                "clientRole": False,
                "containerId": "bank-customers",
            }
        ]
    }


def test_admin_password_reset() -> None:
    doc = _doc(3)
    assert doc["event"]["action"] == "ACTION"
    assert doc["event"]["type"] == ["change", "user"]
    assert doc["url"]["path"] == f"users/{USER}/reset-password"
    assert doc["user"]["target"]["id"] == USER


def test_mfa_removed_by_user() -> None:
    doc = _doc(4)
    assert doc["event"]["category"] == ["iam"]
    assert doc["event"]["type"] == ["user", "change"]
    assert doc["keycloak"]["details"]["credential_type"] == "otp"


def test_logout_ends_the_session() -> None:
    assert _doc(5)["event"]["type"] == ["end"]


def test_failed_admin_event_keeps_unknown_fields() -> None:
    doc = _doc(6)
    assert doc["event"]["category"] == ["configuration"]
    assert doc["event"]["type"] == ["deletion"]
    assert doc["event"]["outcome"] == "failure"
    assert doc["event"]["reason"] == "unknown_error"
    assert "id" not in doc["event"]
    assert doc["keycloak"]["details"] == {"newAdminField": "kept"}


def test_quarkus_json_log_record() -> None:
    doc = _doc(7)
    assert doc["@timestamp"] == "2025-03-04T08:00:00.123Z"
    assert doc["event"]["action"] == "LOGIN_ERROR"
    assert doc["event"]["reason"] == "user_not_found"
    assert doc["source"]["ip"] == "203.0.113.77"
    assert "userId" not in doc["keycloak"]  # jboss-logging writes null for an absent member
    assert doc["keycloak"]["details"] == {"auth_method": "openid-connect", "username": "admin"}


def test_server_log_line_with_key_values() -> None:
    raw = (
        "2025-03-04 09:12:13,456 WARN  [org.keycloak.events] (executor-thread-3) "
        'type="LOGIN_ERROR", realmId="bank-staff", clientId="treasury", userId="null", '
        'ipAddress="198.51.100.9", error="user_temporarily_disabled", username="ops.bot"'
    )
    doc = normalise(raw)
    EcsDocument.model_validate(doc)
    assert doc["@timestamp"] == "2025-03-04T09:12:13.456Z"
    assert doc["event"]["outcome"] == "failure"
    assert doc["user"] == {"name": "ops.bot"}


def test_json_listener_line_and_dateless_console_line() -> None:
    payload = '{"type":"LOGIN","realmId":"r","userId":"u1","ipAddress":"10.0.0.1","time":1741075200000}'
    doc = normalise(f"09:12:13,456 INFO  [org.keycloak.events] (default task-6) JSON_EVENT::{payload}")
    assert doc["@timestamp"] == "2025-03-04T08:00:00.000Z"
    with pytest.raises(NormalisationError) as caught:
        normalise('09:12:13,456 INFO  [org.keycloak.events] (default task-6) JSON_EVENT::{"type":"LOGIN"}')
    assert caught.value.field == "timestamp"


def test_every_fixture_is_a_valid_ecs_document() -> None:
    for line in LINES:
        EcsDocument.model_validate(normalise(line))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"type":"LOGIN"}', "time"),
        ('{"type":"LOGIN","time":"soon"}', "time"),
        ('{"type":"LOGIN","time":-5}', "time"),
        ('{"realmId":"r","time":1741075200000}', "type"),
        ('{"type":"LOGIN","time":1741075200000,"userId":["u"]}', "userId"),
        ('{"type":"LOGIN","time":1741075200000,"details":"x"}', "details"),
        ('{"operationType":"CREATE","time":1741075200000,"authDetails":[]}', "authDetails"),
        (
            '{"loggerName":"org.keycloak.events","message":"started","timestamp":"2025-03-04T08:00:00Z"}',
            "message",
        ),
        ("Keycloak 26.0.0 on JVM (powered by Quarkus) started", "line"),
    ],
)
def test_bad_records_name_the_field(raw: str, field: str) -> None:
    with pytest.raises(NormalisationError) as caught:
        normalise_record("keycloak", raw)
    assert caught.value.field == field


def test_fixture_files_through_normalise_lines() -> None:
    assert all(isinstance(r, Normalised) for r in normalise_lines("keycloak", LINES))
    with (FIXTURES / "bad.jsonl").open(encoding="utf-8") as handle:
        results = list(normalise_lines("keycloak", handle, file="bad.jsonl"))
    assert [(type(r).__name__, r.line) for r in results] == [
        ("DeadLetter", 1),
        ("DeadLetter", 2),
        ("DeadLetter", 3),
        ("Normalised", 5),
        ("DeadLetter", 6),
        ("DeadLetter", 7),
        ("DeadLetter", 8),
    ]
    errors = [r.error for r in results if isinstance(r, DeadLetter)]
    assert errors[1] == "time: Keycloak event without a time"
    assert errors[4].startswith("realmId:")


def test_template_gives_native_fields_a_home() -> None:
    types = field_types(Source.KEYCLOAK)
    assert types["keycloak.type"] == "keyword"
    assert types["keycloak.time"] == "date"
    assert types["keycloak.details"] == "flattened"
    assert types["keycloak.representation"] == "flattened"
    assert types["keycloak.authDetails.userId"] == "keyword"
    assert types["keycloak.operationType"] == "keyword"


# --- robustness -------------------------------------------------------------------------------

_KEYS = ["type", "time", "operationType", "authDetails", "details", "representation", "resourcePath", "x"]


@FUZZ
@given(st.text(max_size=200))
def test_random_text(raw: str) -> None:
    assert_only_normalisation_errors(normalise, raw)
    assert_only_normalisation_errors(
        normalise, "2025-03-04 09:12:13,456 WARN  [org.keycloak.events] (t) " + raw
    )


@FUZZ
@given(st.dictionaries(st.sampled_from(_KEYS), JSON_VALUES))
def test_random_objects(event: dict[str, Any]) -> None:
    assert_only_normalisation_errors(normalise, json.dumps(event))


@FUZZ
@given(st.sampled_from(EVENTS), st.integers(min_value=0), JSON_VALUES, st.booleans())
def test_valid_events_with_a_field_broken(event: dict[str, Any], pick: int, value: Any, delete: bool) -> None:
    assert_only_normalisation_errors(normalise, mutated(event, pick, value, delete))


@FUZZ
@given(GOOD_OR_JUNK)
def test_bad_lines_become_dead_letters_with_their_line_number(plan: list[tuple[bool, str]]) -> None:
    lines = [LINES[2] if good else f"#{junk}" for good, junk in plan]
    results = list(normalise_lines("keycloak", lines))
    assert_numbered(results, plan)
