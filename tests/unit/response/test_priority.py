"""Triage priority: risk-score bands, raised by what is at stake, bounded to 1..4."""

from __future__ import annotations

from soar.response.models import IdentityContext
from soar.response.priority import triage_priority
from soar.response.settings import Service


def test_bands_follow_the_risk_score() -> None:
    assert [triage_priority(s).value for s in (99, 73, 47, 21, 0)] == [1, 2, 3, 4, 4]


def test_critical_service_and_privileged_identity_raise_it() -> None:
    payments = Service(name="payments", criticality="critical", critical_function=True)
    admin = IdentityContext(system="okta", user_id="1", username="root", privileged=True)
    result = triage_priority(47, service=payments, identities=[admin], related_events=60)
    assert result.value == 1  # 3, raised three times, floored at 1
    assert any("payments" in r for r in result.reasons)
    assert any("root" in r for r in result.reasons)


def test_an_ordinary_service_does_not() -> None:
    assert triage_priority(47, service=Service(name="analytics", criticality="low")).value == 3
