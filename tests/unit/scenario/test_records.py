"""Every raw record is well formed, inside the window, in order, and every story points at real records."""

from __future__ import annotations

import json

import pytest

from soar.telemetry.scenario import STORIES, Scenario
from soar.telemetry.sources import Source
from tests.unit.scenario._native import ID_KEY, REQUIRED, instant

STORY_IDS = {
    "credential-stuffing",
    "password-spraying",
    "payment-without-mfa",
    "payment-above-limit-without-dual-approval",
    "ledger-call-without-mtls",
    "unexpected-spiffe-identity",
    "exec-into-core-banking-pod",
    "secrets-enumeration",
    "tpp-consent-scope-violation",
    "token-two-countries",
    "okta-admin-takeover",
    "payments-availability-incident",
}


@pytest.fixture(params=["small", "default"])
def scenario(request: pytest.FixtureRequest) -> Scenario:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.mark.parametrize("source", list(Source))
def test_records_are_json_with_required_keys(scenario: Scenario, source: Source) -> None:
    ids = set()
    for line in scenario.records[source]:
        record = json.loads(line)
        missing = [k for k in REQUIRED[source] if k not in record]
        assert not missing, f"{source}: missing {missing} in {line[:200]}"
        ids.add(record[ID_KEY[source]])
    assert len(ids) == len(scenario.records[source]), f"{source}: event ids are not unique"


@pytest.mark.parametrize("source", list(Source))
def test_records_are_in_the_window_and_sorted(scenario: Scenario, source: Source) -> None:
    times = [instant(source, json.loads(line)) for line in scenario.records[source]]
    assert times == sorted(times)
    assert scenario.start <= times[0]
    assert times[-1] <= scenario.end


def test_every_story_is_there(scenario: Scenario) -> None:
    assert {s.id for s in scenario.stories} == STORY_IDS
    assert len(STORIES) == len(STORY_IDS)


def test_story_event_ids_exist(scenario: Scenario) -> None:
    index = {s: {json.loads(line)[ID_KEY[s]] for line in scenario.records[s]} for s in Source}
    for story in scenario.stories:
        assert story.events, story.id
        assert story.attack_techniques, story.id
        assert story.entities, story.id
        assert scenario.start <= story.start <= story.end <= scenario.end, story.id
        for source, ids in story.events.items():
            missing = set(ids) - index[Source(source)]
            assert not missing, f"{story.id}: {len(missing)} {source} ids not in the records"


def test_story_events_lie_in_the_story_window(small: Scenario) -> None:
    by_id = {
        (s.value, json.loads(line)[ID_KEY[s]]): instant(s, json.loads(line))
        for s in Source
        for line in small.records[s]
    }
    for story in small.stories:
        for source, ids in story.events.items():
            for event_id in ids:
                assert story.start <= by_id[(source, event_id)] <= story.end, story.id


def test_incident_figures(scenario: Scenario) -> None:
    figures = scenario.story("payments-availability-incident").figures
    assert set(figures) == {
        "clients_affected",
        "transactions_affected",
        "transaction_value_affected_eur",
        "downtime_minutes",
        "member_states",
    }
    assert figures["downtime_minutes"] == 150
    clients, txs = figures["clients_affected"], figures["transactions_affected"]
    assert isinstance(clients, int)
    assert isinstance(txs, int)
    assert 0 < clients <= txs
    states = figures["member_states"]
    assert isinstance(states, list)
    assert len(states) >= 2


def test_incident_figures_match_the_app_log(small: Scenario) -> None:
    story = small.story("payments-availability-incident")
    mine = set(story.events["app"])
    failed = [
        r
        for r in map(json.loads, small.records[Source.APP])
        if r["event_id"] in mine and r["msg"] == "payment.failed"
    ]
    assert len(failed) == story.figures["transactions_affected"]
    assert len({r["customer_id"] for r in failed}) == story.figures["clients_affected"]
    assert sorted({r["customer_country"] for r in failed}) == story.figures["member_states"]
    value = round(sum(r["amount"] for r in failed), 2)
    assert value == story.figures["transaction_value_affected_eur"]
