"""RTS-C (2024/1772) Art. 9 thresholds at their boundaries and the Art. 8(1) decision rule."""

from __future__ import annotations

from typing import Any

import pytest

from soar.dora.classification import classify
from soar.dora.enums import Criterion

from .conftest import make

C = Criterion


def met(criterion: Criterion, **inputs: Any) -> bool:
    return classify(make(**inputs)).result(criterion).met


# --- Art. 9(1): clients, counterparts, transactions (strict "higher than") -------------------------------


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"clients_affected": 100, "clients_total": 1000}, False),  # (a) exactly 10 %
        ({"clients_affected": 101, "clients_total": 1000}, True),  # (a) 10.1 %
        ({"clients_affected": 100_000, "clients_total": 10_000_000}, False),  # (b) exactly 100 000, 1 %
        ({"clients_affected": 100_001, "clients_total": 10_000_000}, True),  # (b) one more
        ({"counterparts_affected": 3, "counterparts_total": 10}, False),  # (c) exactly 30 %
        ({"counterparts_affected": 31, "counterparts_total": 100}, True),  # (c) 31 %
        ({"transactions_affected": 100, "transactions_daily_avg": 1000}, False),  # (d) exactly 10 %
        ({"transactions_affected": 101, "transactions_daily_avg": 1000}, True),
        (
            {"transaction_value_affected_eur": 1000, "transaction_value_daily_avg_eur": 10000},
            False,
        ),  # (e) 10 %
        ({"transaction_value_affected_eur": 1000.01, "transaction_value_daily_avg_eur": 10000}, True),
        ({"relevant_clients_affected": True}, True),  # (f)
        ({}, False),
    ],
)
def test_clients_threshold_boundaries(inputs: dict[str, Any], expected: bool) -> None:
    assert met(C.CLIENTS, **inputs) is expected


def test_clients_explanation_shows_figures() -> None:
    result = classify(make(clients_affected=101, clients_total=1000)).result(C.CLIENTS)
    assert result.article == "RTS-C Art. 9(1)"
    assert "101 of 1,000 clients = 10.10 % > 10.00 %: met" in result.sentence()


# --- Art. 9(2) reputational: any of Art. 2(1)(a)-(d) ---------------------------------------------------------


@pytest.mark.parametrize("item", ["media", "complaints", "regulatory", "client_loss"])
def test_each_reputational_item_meets(item: str) -> None:
    assert met(C.REPUTATIONAL, reputational=[item])


def test_no_reputational_item() -> None:
    assert not met(C.REPUTATIONAL)


# --- Art. 9(3) duration > 24 h or critical downtime > 2 h ---------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"duration_hours": 24}, False),
        ({"duration_hours": 24.01}, True),
        ({"downtime_critical_hours": 2}, False),
        ({"downtime_critical_hours": 2.01}, True),
    ],
)
def test_duration_boundaries(inputs: dict[str, Any], expected: bool) -> None:
    assert met(C.DURATION, **inputs) is expected


# --- Art. 9(4) two or more Member States ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("states", "home_counts", "expected"),
    [
        (["DE"], True, False),
        (["DE", "AT"], True, True),  # home + one other: two Member States (default)
        (["DE", "AT"], False, False),  # home left out: one
        (["DE", "AT", "FR"], False, True),
        (["AT", "FR"], False, True),
    ],
)
def test_geography(states: list[str], home_counts: bool, expected: bool) -> None:
    entity = {"home_member_state_counts_for_geography": home_counts}
    assert met(C.GEOGRAPHICAL, member_states_impacted=states, entity=entity) is expected


# --- Art. 9(5) data losses and Art. 9(6) economic impact -----------------------------------------------


def test_data_losses_limb_a() -> None:
    assert met(C.DATA_LOSSES, data_loss_adverse_impact=True)
    assert not met(C.DATA_LOSSES)


@pytest.mark.parametrize(("costs", "expected"), [(100_000, False), (100_000.01, True), (0, False)])
def test_economic_boundary(costs: float, expected: bool) -> None:
    assert met(C.ECONOMIC, costs_eur=costs) is expected


# --- Art. 6 gate and Art. 8(1) ----------------------------------------------------------------------------

TWO = {"reputational": ["media"], "costs_eur": 200_000}


@pytest.mark.parametrize(
    "gate_input",
    ["critical_services_affected", "authorised_services_affected", "malicious_unauthorised_access"],
)
def test_any_limb_of_the_gate_with_two_thresholds_is_major(gate_input: str) -> None:
    result = classify(make(**{gate_input: True}, **TWO))
    assert result.gate
    assert result.major
    assert result.rule.startswith("RTS-C Art. 8(1)(b)")


def test_no_gate_means_not_major_whatever_the_thresholds() -> None:
    result = classify(
        make(
            clients_affected=500_000,
            clients_total=600_000,
            reputational=["media"],
            duration_hours=100,
            member_states_impacted=["DE", "AT", "FR"],
            data_loss_adverse_impact=True,
            costs_eur=5_000_000,
        )
    )
    assert not result.gate
    assert not result.major
    assert len(result.thresholds) == 6


def test_gate_and_one_threshold_is_not_major(gate: dict[str, Any]) -> None:
    result = classify(make(**gate, costs_eur=200_000))
    assert not result.major
    assert result.thresholds == (C.ECONOMIC,)


def test_limbs_of_one_criterion_count_once(gate: dict[str, Any]) -> None:
    # 9(1)(a), (b), (d), (e) and (f) all met: still one criterion, so not two thresholds.
    result = classify(
        make(
            **gate,
            clients_affected=200_000,
            clients_total=300_000,
            transactions_affected=9,
            transactions_daily_avg=10,
            transaction_value_affected_eur=9,
            transaction_value_daily_avg_eur=10,
            relevant_clients_affected=True,
            duration_hours=30,
            downtime_critical_hours=5,
        )
    )
    assert result.counted == (C.CLIENTS, C.DURATION)
    assert result.major


def test_two_limbs_of_clients_alone_are_one_threshold(gate: dict[str, Any]) -> None:
    result = classify(make(**gate, clients_affected=200_000, clients_total=300_000))
    assert not result.major


def test_data_losses_limb_a_counts_as_other_threshold(gate: dict[str, Any]) -> None:
    assert classify(make(**gate, data_loss_adverse_impact=True, costs_eur=100_001)).major


def test_shortcut_malicious_access_that_may_cause_data_loss_is_major_alone() -> None:
    result = classify(make(malicious_unauthorised_access=True, access_may_cause_data_loss=True))
    assert result.gate
    assert result.shortcut
    assert result.major
    assert result.rule.startswith("RTS-C Art. 8(1)(a)")
    assert result.thresholds == (C.DATA_LOSSES,)
    assert result.counted == ()  # 9(5)(b) is the shortcut, not one of the "other" thresholds


def test_malicious_access_without_possible_data_loss_needs_two_thresholds() -> None:
    one = classify(make(malicious_unauthorised_access=True, costs_eur=200_000))
    two = classify(make(malicious_unauthorised_access=True, **TWO))
    assert one.gate
    assert not one.major
    assert two.major


def test_shortcut_with_limb_a_too_is_still_major() -> None:
    result = classify(
        make(
            malicious_unauthorised_access=True, access_may_cause_data_loss=True, data_loss_adverse_impact=True
        )
    )
    assert result.major
    assert result.counted == (C.DATA_LOSSES,)


def test_triggering_criteria_put_the_gate_first(gate: dict[str, Any]) -> None:
    result = classify(make(**gate, **TWO))
    assert result.triggering == (C.CRITICAL_SERVICES, C.REPUTATIONAL, C.ECONOMIC)
    assert C.CRITICAL_SERVICES not in result.thresholds


def test_every_result_explains_every_criterion(gate: dict[str, Any]) -> None:
    result = classify(make(**gate, **TWO))
    assert result.explanation[0].startswith("MAJOR ICT-related incident")
    assert len(result.explanation) == 1 + 7
    assert any("RTS-C Art. 6" in line for line in result.explanation)
