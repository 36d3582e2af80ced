"""The triage enrichment activity on the embedded search engine: plain and aggregate alerts."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from soar.actions.triage import TriageActivities
from soar.detect.routing import AlertHandOver
from soar.engines.search import SearchClient
from soar.response.catalogue import load_catalogue
from soar.response.models import EntityKind
from soar.response.policy import load_response_file

pytestmark = pytest.mark.engines
REPO = Path(__file__).resolve().parents[2]


def _activities(search: SearchClient) -> TriageActivities:
    return TriageActivities(
        search,
        load_catalogue(REPO / "response" / "catalogue.yml"),
        load_response_file(REPO / "response" / "routing.yml"),
    )


async def test_an_aggregate_alert_takes_its_service_from_its_first_event(search: SearchClient) -> None:
    anchor = {
        "@timestamp": "2026-11-23T10:00:00Z",
        "event": {"dataset": "payments.transaction"},
        "service": {"name": "payments"},
        "source": {"geo": {"country_iso_code": "NL"}},
    }
    await search.es.index(index="logs-payments.transaction-default", id="ev1", document=anchor, refresh=True)
    alert = {
        "@timestamp": "2026-11-23T10:20:00Z",
        "event": {"kind": "signal"},
        "soar": {
            "alert": {
                "uuid": "a1",
                "risk_score": 73,
                "original_time": "2026-11-23T10:00:00Z",
                "rule": {
                    "uuid": "r1",
                    "name": "Burst",
                    "tags": ["attack.t1499"],
                    "group": "g",
                    "type": "event_count",
                },
            }
        },
    }
    await search.es.index(index="soar-alerts-default", id="a1", document=alert, refresh=True)
    handover = AlertHandOver(
        alert_id="a1",
        alert_index="soar-alerts-default",
        rule_id="r1",
        rule_title="Burst",
        severity="high",
        source_index="logs-payments.transaction-default",
        source_id="ev1",
    )
    found = await ActivityEnvironment().run(_activities(search).enrich, handover)
    assert found.service is not None
    assert found.service.name == "payments"
    assert found.dataset == "payments.transaction"
    assert found.country == "NL"
    assert found.entities == []  # no group-by values: nothing to group by but the service


async def test_a_plain_alert_lists_its_entities_and_related_events(search: SearchClient) -> None:
    events = [
        {
            "@timestamp": f"2026-11-23T10:0{i}:00Z",
            "user": {"name": "eve"},
            "event": {"dataset": "keycloak.event"},
        }
        for i in range(3)
    ]
    for i, event in enumerate(events):
        await search.es.index(index="logs-keycloak.event-default", id=f"k{i}", document=event, refresh=True)
    alert = {
        **events[0],
        "source": {"ip": "81.2.69.160"},
        "soar": {
            "alert": {
                "uuid": "a2",
                "risk_score": 47,
                "original_time": "2026-11-23T10:00:00Z",
                "rule": {"uuid": "r2", "name": "Login", "tags": ["attack.credential-access"], "group": "kc"},
            }
        },
    }
    await search.es.index(index="soar-alerts-default", id="a2", document=alert, refresh=True)
    handover = AlertHandOver(
        alert_id="a2",
        alert_index="soar-alerts-default",
        rule_id="r2",
        rule_title="Login",
        severity="medium",
        source_index="logs-keycloak.event-default",
        source_id="k0",
    )
    found = await ActivityEnvironment().run(_activities(search).enrich, handover)
    assert {e.kind for e in found.entities} == {EntityKind.USER, EntityKind.ADDRESS}
    assert found.related_events == 3
    assert found.notes == ["identity of eve: no keycloak connector configured"]
    assert {c.action for c in found.candidates} >= {"revoke_sessions"}
