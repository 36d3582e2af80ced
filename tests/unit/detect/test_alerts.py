from __future__ import annotations

import json
from datetime import UTC, datetime

from soar.detect.alerts import AlertContext, alert_document, alert_id, attack, handover_workflow_id
from soar.detect.models import DetectRule, Window
from soar.detect.routing import AlertFacts, Route, RoutingTable
from soar.detect.settings import RuleOptions
from soar.rules.models import CompiledRule
from soar.telemetry.sources import Source

RULE = CompiledRule(
    rule_id="r1",
    title="Okta sign-in failed",
    level="high",
    tags=["attack.credential-access", "attack.t1110.003", "attack.g0016", "cve.2024-1"],
    source=Source.OKTA,
    index="logs-okta.system-*",
    query={"term": {"event.action": {"value": "x"}}},
    content_hash="abc",
    path="r.yml",
    version="2026-11-23",
)
T = datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_alert_id_is_deterministic_and_distinguishes_its_inputs() -> None:
    assert alert_id("r1", "logs-a", "1") == alert_id("r1", "logs-a", "1")
    ids = {alert_id("r1", "logs-a", "1"), alert_id("r2", "logs-a", "1"), alert_id("r1", "logs-b", "1")}
    ids.add(alert_id("r1", "logs-a", "2"))
    assert len(ids) == 4
    # The separator keeps ("r1", "x-y") and ("r1x", "-y") apart.
    assert alert_id("r1", "x", "y") != alert_id("r1x", "", "y")
    assert handover_workflow_id("abc") == "alert-abc"


def test_attack_from_tags() -> None:
    assert attack(RULE.tags) == {"technique": ["T1110.003"], "tactic": ["credential-access"]}


def test_alert_document_copies_the_source_and_adds_soar_alert() -> None:
    ctx = AlertContext(
        rule=DetectRule(rule=RULE, options=RuleOptions()),
        group_id="okta",
        run_id="run-1",
        window=Window(start=T, end=T),
        created=T,
    )
    hit = {
        "_index": "logs-okta.system-default",
        "_id": "src1",
        "_source": {
            "@timestamp": "2026-11-23T11:00:00.000Z",
            "event": {"action": "a"},
            "user": {"name": "u"},
        },
        "matched_queries": ["selection"],
    }
    uid, doc = alert_document(ctx, hit)
    assert uid == alert_id("r1", "logs-okta.system-default", "src1")
    alert = doc["soar"]["alert"]
    assert doc["user"] == {"name": "u"}
    assert doc["event"] == {"action": "a", "kind": "signal"}
    assert doc["@timestamp"] == "2026-11-23T12:00:00.000Z"
    assert alert["original_time"] == "2026-11-23T11:00:00.000Z"
    assert alert["source"] == {"index": "logs-okta.system-default", "id": "src1"}
    assert alert["rule"]["content_hash"] == "abc"
    assert json.loads(alert["rule"]["query"]) == RULE.query
    assert (alert["severity"], alert["risk_score"], alert["building_block"]) == ("high", 73, False)
    assert alert["handover"] == {"status": "pending"}


FACTS = AlertFacts(rule_id="r1", level="high", source="okta", tags=["attack.t1110"])


def test_routing_first_match_wins_and_criteria_combine() -> None:
    table = RoutingTable(
        routes=[
            Route(workflow="Containment", levels=["critical"]),
            Route(workflow="Triage", tags=["ATTACK.T1110"], sources=["okta"]),
            Route(workflow="Catchall"),
        ]
    )
    assert table.route(FACTS) == table.routes[1]
    assert table.route(FACTS.model_copy(update={"source": "envoy"})) == table.routes[2]
    assert table.route(FACTS.model_copy(update={"level": "critical"})) == table.routes[0]


def test_empty_table_routes_nothing_and_building_blocks_need_their_rule_id() -> None:
    assert RoutingTable().route(FACTS) is None
    block = FACTS.model_copy(update={"level": "informational"})
    assert RoutingTable(routes=[Route(workflow="Catchall")]).route(block) is None
    named = Route(workflow="Named", rule_ids=["r1"])
    assert RoutingTable(routes=[named]).route(block) == named
