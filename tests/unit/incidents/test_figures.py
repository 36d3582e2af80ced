from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from soar.incidents.figures import (
    Episode,
    Signature,
    amount,
    downtime_minutes,
    failed_payments_query,
    merge_episodes,
    split_countries,
    touching,
    upstream_errors_query,
    value_at,
)
from tests.unit.incidents.helpers import T0


def _at(minutes: float) -> Episode:
    t = T0 + timedelta(minutes=minutes)
    return Episode(t, t + timedelta(seconds=30), 1)


def test_runs_closer_than_the_gap_merge_into_one_episode() -> None:
    runs = [_at(m) for m in (0, 1, 2, 14, 40, 41)]
    merged = merge_episodes(runs, gap=timedelta(minutes=15))
    assert [(e.start, e.count) for e in merged] == [(T0, 4), (T0 + timedelta(minutes=40), 2)]
    assert merged[0].end == T0 + timedelta(minutes=14, seconds=30)


def test_merge_sorts_its_input() -> None:
    assert merge_episodes([_at(5), _at(0)])[0].start == T0


def test_only_episodes_reaching_the_alerts_count() -> None:
    episodes = merge_episodes([_at(m) for m in (0, 1, 100, 101, 300)])
    kept = touching(episodes, T0 + timedelta(minutes=95), T0 + timedelta(minutes=110))
    assert [e.start for e in kept] == [T0 + timedelta(minutes=100)]


def test_downtime_is_first_to_last_failure_per_episode() -> None:
    episodes = [Episode(T0, T0 + timedelta(minutes=149, seconds=54), 90), _at(300)]
    assert downtime_minutes(episodes) == Decimal("149.9") + Decimal("0.5")
    assert downtime_minutes([]) == 0


def test_countries_split_into_member_states_and_others() -> None:
    assert split_countries(["DE", "at", "BR", "DE", "", "GR", "EL"]) == (["AT", "DE", "GR"], ["BR", "EL"])


def test_amounts_are_exact_to_the_thousandth() -> None:
    assert amount(33.9) == Decimal("33.900")
    assert amount(0.1 + 0.2) == Decimal("0.300")
    assert amount(None) == 0


def test_signature_learns_codes_services_and_upstreams_from_source_events() -> None:
    sig = Signature()
    sig.learn(
        {
            "event": {"dataset": "payments.transaction", "action": "payment.failed"},
            "payment": {"error_code": "LEDGER_UNAVAILABLE"},
            "service": {"name": "payments"},
        }
    )
    sig.learn(
        {
            "event": {"dataset": "payments.transaction", "action": "payment.completed"},
            "service": {"name": "x"},
        }
    )
    sig.learn(
        {
            "event": {"dataset": "envoy.access"},
            "http": {"response": {"status_code": 503}},
            "envoy": {"destination": {"workload": "ledger"}, "source": {"workload": "payments-api"}},
        }
    )
    sig.learn(
        {
            "event": {"dataset": "envoy.access"},
            "http": {"response": {"status_code": 200}},
            "envoy": {"destination": {"workload": "other"}},
        }
    )
    assert sig.error_codes == {"LEDGER_UNAVAILABLE"}
    assert sig.app_services == {"payments"}
    assert sig.workloads == {"ledger"}
    assert sig.callers == {"payments-api"}
    assert sig.finds_payments


def test_queries_filter_on_the_signature_and_the_range() -> None:
    sig = Signature({"B", "A"}, {"payments"}, {"ledger"})
    q = failed_payments_query(sig, T0, T0 + timedelta(hours=1))
    filters = q["bool"]["filter"]
    assert {"terms": {"payment.error_code": ["A", "B"]}} in filters
    assert {"terms": {"service.name": ["payments"]}} in filters
    up = upstream_errors_query(sig, T0, T0)["bool"]["filter"]
    assert {"range": {"http.response.status_code": {"gte": 500}}} in up


def test_value_at_walks_nested_documents() -> None:
    doc = {"a": {"b": [1, 2]}, "c": None}
    assert value_at(doc, "a.b") == 1
    assert value_at(doc, "a.x") is None
    assert value_at(doc, "c.d") is None


def test_without_error_codes_failed_payments_are_told_apart_by_service() -> None:
    assert not Signature(workloads={"ledger"}).finds_payments
    sig = Signature(app_services={"payments"})
    filters = failed_payments_query(sig, T0, T0)["bool"]["filter"]
    assert {"terms": {"service.name": ["payments"]}} in filters
    assert not any("payment.error_code" in str(f) for f in filters)
