"""Risk score and severity: the rule level's defaults, overridden from event fields; the highest match wins."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from soar.detect.alerts import AlertContext, alert_document
from soar.detect.models import DetectRule, Window
from soar.detect.risk import assess, field_values, matches
from soar.detect.settings import RiskScoreMapping, RuleOptions
from soar.errors import RuleError
from soar.rules.models import CompiledRule
from soar.telemetry.sources import Source

OPTIONS = RuleOptions().override(
    {
        "risk_score_mapping": [
            {"field": "payment.amount", "operator": "gte", "value": 10000, "risk_score": 90},
            {"field": "user.roles", "value": "admin", "risk_score": 80},
            {"field": "payment.amount", "operator": "gte", "value": 1000, "risk_score": 60},
        ],
        "severity_mapping": [
            {"field": "payment.amount", "operator": "gt", "value": 50000, "severity": "critical"},
            {"field": "payment.channel", "value": "batch", "severity": "high"},
        ],
    },
    file="r.yml",
    rule_id="r1",
)


def test_field_values_reads_nested_dotted_and_list_fields() -> None:
    doc = {"user": {"roles": ["admin", "ops"], "name": "u"}, "payment.amount": 12, "a": [{"b": 1}, {"b": 2}]}
    assert field_values(doc, "user.roles") == ["admin", "ops"]
    assert field_values(doc, "payment.amount") == [12]
    assert field_values(doc, "a.b") == [1, 2]
    assert field_values(doc, "user.missing") == []


def test_comparisons_need_numbers_and_eq_matches_any_item() -> None:
    gte = RiskScoreMapping(field="payment.amount", operator="gte", value=10000, risk_score=90)
    assert matches(gte, {"payment": {"amount": 10000}})
    assert matches(gte, {"payment": {"amount": "15000.50"}})  # a numeric string is a number
    assert not matches(gte, {"payment": {"amount": 9999.99}})
    assert not matches(gte, {"payment": {"amount": "lots"}})
    assert not matches(gte, {"payment": {}})
    admin = RiskScoreMapping(field="user.roles", value="admin", risk_score=80)
    assert matches(admin, {"user": {"roles": ["ops", "admin"]}})
    assert not matches(admin, {"user": {"roles": ["Admin"]}})  # exact, as stored


def test_the_highest_matching_mapping_wins_and_is_recorded() -> None:
    risk = assess(OPTIONS, "medium", {"payment": {"amount": 20000}, "user": {"roles": ["admin"]}})
    assert (risk.risk_score, risk.severity) == (90, "medium")
    assert risk.risk_score_mapping is not None
    assert risk.risk_score_mapping.value == 10000
    assert risk.severity_mapping is None
    risk = assess(
        OPTIONS, "medium", {"payment": {"amount": 2000, "channel": "batch"}, "user": {"roles": ["admin"]}}
    )
    assert (risk.risk_score, risk.severity) == (80, "high")
    risk = assess(OPTIONS, "medium", {"payment": {"amount": 60000, "channel": "batch"}})
    assert (risk.risk_score, risk.severity) == (90, "critical")


def test_without_a_match_the_level_decides() -> None:
    assert assess(OPTIONS, "low", {"payment": {"amount": 5}}).model_dump() == {
        "severity": "low",
        "risk_score": 21,
        "severity_mapping": None,
        "risk_score_mapping": None,
    }
    assert assess(RuleOptions(), None, {}).risk_score == 47
    assert assess(RuleOptions(), "critical", {}).risk_score == 99


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"field": "a", "operator": "gte", "value": "x", "risk_score": 9}, "operator gte needs a number"),
        ({"field": "a", "value": 1, "risk_score": 101}, "less than or equal to 100"),
        (
            {"field": "a", "operator": "like", "value": 1, "risk_score": 1},
            "soar.risk_score_mapping.0.operator",
        ),
    ],
)
def test_bad_mappings_name_the_rule_and_the_key(mapping: dict[str, object], message: str) -> None:
    with pytest.raises(RuleError) as caught:
        RuleOptions().override({"risk_score_mapping": [mapping]}, file="r.yml", rule_id="r1")
    assert "r.yml" in str(caught.value)
    assert "rule r1" in str(caught.value)
    assert message in str(caught.value)


def test_the_alert_carries_the_mapped_score_and_which_mapping_applied() -> None:
    rule = CompiledRule(
        rule_id="r1",
        title="Payment",
        level="medium",
        source=Source.APP,
        index="logs-payments-*",
        query={"match_all": {}},
        content_hash="h",
        path="r.yml",
    )
    t = datetime(2026, 11, 23, tzinfo=UTC)
    ctx = AlertContext(
        rule=DetectRule(rule=rule, options=OPTIONS),
        group_id="app",
        run_id="x",
        window=Window(start=t, end=t),
        created=t,
    )
    hit = {"_index": "logs-payments-default", "_id": "1", "_source": {"payment": {"amount": 75000}}}
    _, doc = alert_document(ctx, hit)
    alert = doc["soar"]["alert"]
    assert (alert["risk_score"], alert["severity"], alert["building_block"]) == (90, "critical", False)
    assert alert["risk_score_mapping"] == {
        "field": "payment.amount",
        "operator": "gte",
        "value": 10000,
        "risk_score": 90,
    }
    assert alert["severity_mapping"]["severity"] == "critical"
    _, plain = alert_document(ctx, {**hit, "_source": {"payment": {"amount": 10}}})
    assert (plain["soar"]["alert"]["risk_score"], plain["soar"]["alert"]["risk_score_mapping"]) == (47, None)
