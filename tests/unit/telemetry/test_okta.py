"""Okta System Log normaliser: logins, MFA reset, admin grant, policy denials, fixtures, robustness."""

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
from soar.telemetry.normalisers.okta import SEVERITY, normalise
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

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "telemetry" / "okta"
LINES = (FIXTURES / "system.jsonl").read_text("utf-8").splitlines()
EVENTS: list[dict[str, Any]] = [json.loads(line) for line in LINES]


def _doc(index: int) -> dict[str, Any]:
    return normalise_record("okta", LINES[index])


def test_successful_login() -> None:
    doc = _doc(0)
    assert doc["@timestamp"] == "2025-03-04T08:01:12.345Z"
    event = doc["event"]
    assert (event["module"], event["dataset"], event["kind"]) == ("okta", "okta.system", "event")
    assert event["category"] == ["authentication", "session"]
    assert event["type"] == ["start"]
    assert event["action"] == "user.session.start"
    assert event["outcome"] == "success"
    assert event["id"] == "6c1f0e2a-f9b1-11ee-9a4b-0b1c2d3e4f50"
    assert event["severity"] == SEVERITY["INFO"] == 2
    assert event["original"] == LINES[0]
    assert doc["message"] == "User login to Okta"
    assert doc["user"] == {
        "name": "anna.schmidt@bank.example",
        "id": "00u8k2p4qRsTuVwXy5d7",
        "full_name": "Anna Schmidt",
        "email": "anna.schmidt@bank.example",
    }
    assert doc["source"]["ip"] == "84.150.23.7"
    assert doc["source"]["geo"]["city_name"] == "Frankfurt am Main"
    assert doc["source"]["geo"]["country_name"] == "Germany"
    assert doc["source"]["geo"]["location"] == {"lat": 50.1109, "lon": 8.6821}
    assert doc["user_agent"]["original"].startswith("Mozilla/5.0 (Windows NT 10.0")
    assert doc["transaction"]["id"] == "Z2WfQqA1bC3dE4fG5hI6jAAACk8"
    assert doc["related"] == {"ip": ["84.150.23.7"], "user": ["anna.schmidt@bank.example"]}


def test_okta_namespace_uses_elastic_names() -> None:
    okta = _doc(0)["okta"]
    assert okta["event_type"] == "user.session.start"
    assert okta["display_message"] == "User login to Okta"
    assert okta["actor"]["alternate_id"] == "anna.schmidt@bank.example"
    assert okta["client"]["ip"] == "84.150.23.7"
    assert okta["client"]["user_agent"]["raw_user_agent"].startswith("Mozilla/5.0")
    assert okta["outcome"] == {"result": "SUCCESS"}
    assert okta["security_context"]["is_proxy"] is False
    assert okta["security_context"]["as_number"] == 3320
    assert okta["debug_context"]["debug_data"]["requestUri"] == "/idp/idx/authenticate"
    assert okta["authentication_context"]["external_session_id"] == "102Xy7Qm3RkTnWc5aPz9LdV4g"
    assert okta["request"]["ip_chain"][0]["ip"] == "84.150.23.7"


def test_failed_login() -> None:
    doc = _doc(1)
    assert doc["event"]["outcome"] == "failure"
    assert doc["event"]["reason"] == "INVALID_CREDENTIALS"
    assert doc["event"]["severity"] == 3
    assert doc["source"]["geo"]["country_name"] == "Romania"
    assert doc["okta"]["debug_context"]["debug_data"]["threatSuspected"] == "true"


def test_mfa_reset_by_admin_targets_the_user() -> None:
    doc = _doc(2)
    assert doc["event"]["category"] == ["iam"]
    assert doc["event"]["type"] == ["user", "change"]
    assert doc["user"]["name"] == "it.admin@bank.example"
    assert doc["user"]["target"] == {
        "name": "anna.schmidt@bank.example",
        "id": "00u8k2p4qRsTuVwXy5d7",
        "full_name": "Anna Schmidt",
        "email": "anna.schmidt@bank.example",
    }
    assert doc["related"]["user"] == ["it.admin@bank.example", "anna.schmidt@bank.example"]


def test_admin_privilege_grant() -> None:
    doc = _doc(3)
    assert doc["event"]["action"] == "user.account.privilege.grant"
    assert doc["event"]["type"] == ["admin", "change"]
    assert doc["okta"]["debug_context"]["debug_data"]["privilegeGranted"] == "Super administrator"


def test_policy_deny_is_a_failure() -> None:
    doc = _doc(4)
    assert doc["event"]["category"] == ["authentication"]
    assert doc["event"]["outcome"] == "failure"
    assert doc["okta"]["target"][0]["displayName"] == "Deny outside EU"
    assert "target" not in doc["user"]


def test_group_membership_names_user_and_group() -> None:
    doc = _doc(5)
    assert doc["event"]["type"] == ["group", "change"]
    assert doc["user"]["target"]["group"] == {"name": "Treasury Approvers", "id": "00g5tr3a5uRy0pS1x2y3"}


def test_nanoseconds_and_unknown_fields() -> None:
    doc = _doc(6)
    assert doc["@timestamp"] == "2025-03-04T08:30:00.123Z"
    assert doc["okta"]["new_okta_field"] == {"introduced_in": "2025.03.0", "flag": True}


def test_offset_timestamp_and_threat_event() -> None:
    doc = _doc(7)
    assert doc["@timestamp"] == "2025-03-04T07:31:00.000Z"
    assert doc["event"]["category"] == ["intrusion_detection"]
    assert doc["event"]["outcome"] == "failure"


def test_every_fixture_is_a_valid_ecs_document() -> None:
    for line in LINES:
        EcsDocument.model_validate(normalise(line))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"eventType":"user.session.start","published":"last tuesday"}', "published"),
        ('{"eventType":"user.session.start","published":"March 4th"}', "published"),
        ('{"published":"2025-03-04T08:00:00Z"}', "eventType"),
        ('{"eventType":["a"],"published":"2025-03-04T08:00:00Z"}', "eventType"),
        ('{"eventType":"x","published":"2025-03-04T08:00:00Z","client":[]}', "client"),
        ('{"eventType":"x","published":"2025-03-04T08:00:00Z","target":{"id":"1"}}', "target"),
        ('{"eventType":"x","published":"2025-03-04T08:00:00Z","outcome":"SUCCESS"}', "outcome"),
    ],
)
def test_bad_records_name_the_field(raw: str, field: str) -> None:
    with pytest.raises(NormalisationError) as caught:
        normalise_record("okta", raw)
    assert caught.value.field == field


def test_fixture_files_through_normalise_lines() -> None:
    assert all(isinstance(r, Normalised) for r in normalise_lines("okta", LINES))
    with (FIXTURES / "bad.jsonl").open(encoding="utf-8") as handle:
        results = list(normalise_lines("okta", handle, file="bad.jsonl"))
    assert [(type(r).__name__, r.line) for r in results] == [
        ("DeadLetter", 1),
        ("Normalised", 2),  # no time at all: kept, placed at ingest time and flagged
        ("Normalised", 4),
        ("DeadLetter", 5),
        ("DeadLetter", 6),
        ("DeadLetter", 7),
        ("DeadLetter", 8),
    ]
    untimed = results[1]
    assert isinstance(untimed, Normalised)
    assert untimed.document["tags"] == ["timestamp_missing"]
    assert untimed.document["soar"]["timestamp_source"] == "ingested"
    letters = [r for r in results if isinstance(r, DeadLetter)]
    assert letters[0].error.startswith("not a JSON object")
    assert letters[3].error.startswith("actor:")
    assert all(letter.file == "bad.jsonl" for letter in letters)


def test_template_gives_sigma_fields_a_home() -> None:
    types = field_types(Source.OKTA)
    assert types["okta.event_type"] == "keyword"
    assert types["okta.actor.alternate_id"] == "keyword"
    assert types["okta.outcome.result"] == "keyword"
    assert types["okta.client.ip"] == "ip"
    assert types["okta.debug_context.debug_data"] == "flattened"
    assert types["okta.security_context.is_proxy"] == "boolean"
    assert types["okta.display_message"] == "keyword"
    assert types["okta.display_message.text"] == "match_only_text"
    assert types["okta.target"] == "flattened"


# --- robustness -------------------------------------------------------------------------------


@FUZZ
@given(st.text(max_size=200))
def test_random_text(raw: str) -> None:
    assert_only_normalisation_errors(normalise, raw)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["eventType", "published", "actor", "client", "target", "x"]), JSON_VALUES
    )
)
def test_random_objects(event: dict[str, Any]) -> None:
    assert_only_normalisation_errors(normalise, json.dumps(event))


@FUZZ
@given(st.sampled_from(EVENTS), st.integers(min_value=0), JSON_VALUES, st.booleans())
def test_valid_events_with_a_field_broken(event: dict[str, Any], pick: int, value: Any, delete: bool) -> None:
    assert_only_normalisation_errors(normalise, mutated(event, pick, value, delete))


@FUZZ
@given(GOOD_OR_JUNK)
def test_bad_lines_become_dead_letters_with_their_line_number(plan: list[tuple[bool, str]]) -> None:
    lines = [LINES[1] if good else f"#{junk}" for good, junk in plan]
    results = list(normalise_lines("okta", lines))
    assert_numbered(results, plan)


def test_redacted_time_falls_back_to_the_exporters_event_time() -> None:
    event = {
        "eventType": "user.session.start",
        "published": "redacted",
        "p_event_time": "2022-03-22 14:21:53.225",
    }
    doc = normalise_record("okta", json.dumps(event))
    assert doc["@timestamp"] == "2022-03-22T14:21:53.225Z"
    assert "tags" not in doc
