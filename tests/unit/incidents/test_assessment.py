from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from soar.dora.enums import Discovery
from soar.incidents.assessment import assess, build
from soar.incidents.models import Fact, IncidentFacts, TelemetryFigures
from soar.response.settings import DoraSettings
from tests.unit.incidents.helpers import T0

DORA = DoraSettings(
    clients_total=3000,
    transactions_daily_avg=Decimal(1470),
    transaction_value_daily_avg_eur=Decimal(1_120_000),
)
CRITICAL = {"payments": True, "analytics": False}


def _figures() -> TelemetryFigures:
    return TelemetryFigures(
        computed_at=T0,
        start=T0,
        end=T0 + timedelta(minutes=150),
        clients_affected=420,
        transactions_affected=630,
        transaction_value_affected_eur=Decimal("58960.63"),
        member_states=["AT", "DE", "FR"],
        other_countries=["BR"],
        clients_by_country={"AT": 30, "BR": 1, "DE": 350, "FR": 39},
        downtime_minutes=Decimal("149.9"),
        payments_how="failed payments (LEDGER_UNAVAILABLE) in the test",
        downtime_how="149.90 min: 1 episode(s) of Envoy 5xx of ledger",
        notes=["from the test"],
    )


def _facts(**changes: object) -> IncidentFacts:
    base = IncidentFacts(
        incident_id="INC-20261123-a1b2c3",
        title="Ledger unavailable",
        aware_at=T0 + timedelta(minutes=5),
        now=T0 + timedelta(minutes=10),
        services=["payments"],
        rules=["Ledger unavailable"],
        alerts_count=900,
        figures=_figures(),
    )
    return base.model_copy(update=changes)


def test_the_outage_is_major_from_telemetry_settings_and_catalogue() -> None:
    out = assess(_facts(), DORA, CRITICAL)
    assert out.classification is not None
    assert out.classification.major
    assert set(out.classification.thresholds) == {
        "clients_financial_counterparts_and_transactions_affected",
        "duration_and_service_downtime",
        "geographical_spread",
    }
    assert out.classification.classified_at == T0 + timedelta(minutes=10)
    initial = out.deadlines[0]
    assert initial.report == "initial"
    assert initial.due == T0 + timedelta(minutes=10, hours=4)
    clients = next(c for c in out.classification.criteria if c.criterion.startswith("clients"))
    assert "420 of 3,000 clients = 14.00 % > 10.00 %: met" in clients.reason


def test_every_input_says_where_it_came_from() -> None:
    rows = {r.name: r for r in assess(_facts(), DORA, CRITICAL).figures}
    assert rows["clients_affected"].source == "telemetry"
    assert rows["clients_affected"].value == "420"
    assert rows["clients_total"].source == "settings"
    assert rows["critical_services_affected"].source == "catalogue"
    assert rows["downtime_critical_hours"].value == "2.50"
    assert rows["member_states_impacted"].value == "AT, DE, FR"
    assert "BR" in rows["member_states_impacted"].detail
    assert rows["discovery"].source == "default"
    assert rows["discovery"].value == Discovery.MONITORING_SYSTEMS.value


def test_without_measured_payments_no_count_is_claimed() -> None:
    figures = _figures().model_copy(update={"payments_how": ""})
    rows = {r.name: r for r in assess(_facts(figures=figures), DORA, CRITICAL).figures}
    assert "clients_affected" not in rows
    assert rows["downtime_hours"].detail.startswith("149.90 min")


def test_people_override_telemetry() -> None:
    facts = _facts(facts={"clients_affected": Fact(value="100", by="carol", at=T0)})
    rows = {r.name: r for r in assess(facts, DORA, CRITICAL).figures}
    assert rows["clients_affected"].value == "100"
    assert rows["clients_affected"].source == "update"
    assert "carol" in rows["clients_affected"].detail


def test_no_critical_service_means_no_gate() -> None:
    out = assess(_facts(), DORA, {"payments": False})
    assert out.classification is not None
    assert not out.classification.major
    assert out.deadlines == []
    assert any("critical function" in p for p in out.problems)


def test_a_missing_reference_is_a_problem_not_a_crash() -> None:
    out = assess(_facts(), DoraSettings(), CRITICAL)
    assert out.classification is not None
    assert any("clients_total is not known" in p for p in out.problems)


def test_an_impossible_combination_of_facts_is_reported() -> None:
    facts = _facts(facts={"access_may_cause_data_loss": Fact(value="true", by="dan", at=T0)})
    out = assess(facts, DORA, CRITICAL)
    assert out.classification is None
    assert any("access_may_cause_data_loss" in p for p in out.problems)


def test_build_carries_root_cause_and_submissions() -> None:
    facts = _facts(
        facts={
            "root_cause.high_level": Fact(value="system_failure_malfunction", by="erin", at=T0),
            "root_cause.information": Fact(value="ledger shard", by="erin", at=T0),
        }
    )
    incident, built = build(facts, DORA, CRITICAL)
    assert incident is not None
    assert incident.root_cause is not None
    assert incident.root_cause.information == "ledger shard"
    assert incident.reference == "INC-20261123-a1b2c3"
    assert built.rows["root_cause.information"].source == "update"
