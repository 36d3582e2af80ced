"""RTS-C Art. 8(2) recurring incidents, Art. 10 significant cyber threats and the Annex III notification."""

from __future__ import annotations

from typing import Any

import pytest

from soar.dora.enums import Criterion
from soar.dora.recurring import Occurrence, classify_recurring
from soar.dora.threats import ThreatAssessment, classify_threat, load_threat_notification
from soar.errors import AssessmentError

from .conftest import make

# Each alone: gate + one threshold (costs 60 000 < 100 000 and 1.5 h downtime). Together: 120 000 and 3 h.
ONE = {
    "critical_services_affected": True,
    "costs_eur": 60_000,
    "downtime_critical_hours": 1.5,
    "reputational": ["media"],
}


def occ(when: str, cause: str = "expired TLS certificate", **extra: Any) -> Occurrence:
    stamp = f"{when}T10:00:00+02:00"
    return Occurrence(
        assessment=make(**{**ONE, **extra}, occurred_at=stamp, aware_at=stamp, classified_at=stamp),
        root_cause=cause,
    )


def test_two_occurrences_within_six_months_same_cause_together_major() -> None:
    result = classify_recurring([occ("2025-04-01"), occ("2025-09-30")])
    assert result.major
    assert result.combined is not None
    assert result.combined.counted == (Criterion.REPUTATIONAL, Criterion.DURATION, Criterion.ECONOMIC)


def test_more_than_six_months_apart_is_not_recurring() -> None:
    assert not classify_recurring([occ("2025-04-01"), occ("2025-10-02")]).major


def test_different_root_causes_are_not_recurring() -> None:
    assert not classify_recurring([occ("2025-04-01"), occ("2025-05-01", cause="disk full")]).major


def test_a_single_occurrence_is_not_recurring() -> None:
    assert not classify_recurring([occ("2025-04-01")]).major


def test_not_for_microenterprises_or_art_16_entities() -> None:
    small = occ("2025-04-01", entity={"name": "Tiny", "simplified_framework_or_microenterprise": True})
    result = classify_recurring([small, occ("2025-05-01")])
    assert not result.applicable
    assert not result.major
    exempted = classify_recurring(
        [occ("2025-04-01", entity_type="exempted_payment_institution"), occ("2025-05-01")]
    )
    assert not exempted.applicable


def test_a_major_occurrence_is_reported_on_its_own() -> None:
    with pytest.raises(AssessmentError) as info:
        classify_recurring([occ("2025-04-01", costs_eur=200_000), occ("2025-05-01")])
    assert info.value.field == "occurrences.0"


@pytest.mark.parametrize(
    ("a", "b", "c", "expected"),
    [
        (True, True, (Criterion.CLIENTS,), True),
        (True, True, (Criterion.GEOGRAPHICAL,), True),
        (True, True, (Criterion.CRITICAL_SERVICES,), True),
        (True, True, (Criterion.ECONOMIC,), False),  # may be considered, not enough alone
        (False, True, (Criterion.CLIENTS,), False),
        (True, False, (Criterion.CLIENTS,), False),
    ],
)
def test_significant_cyber_threat_needs_all_three_conditions(
    a: bool, b: bool, c: tuple[Criterion, ...], expected: bool
) -> None:
    threat = ThreatAssessment(
        could_affect_critical_functions_or_others=a,
        high_probability_of_materialising=b,
        criteria_if_materialised=c,
    )
    result = classify_threat(threat)
    assert result.significant is expected
    assert len(result.explanation) == 3


NOTIFICATION = {
    "submitting_entity_name": "Beispielbank AG",
    "submitting_entity_code": "529900T8BM49AURSDO55",
    "primary_contact_name": "Dr. Anna Weber",
    "primary_contact_email": "ict-incidents@beispielbank.example",
    "detected_at": "2025-06-10T09:00:00+02:00",
    "description": "Phishing kit targeting the bank's clients hosted on a look-alike domain.",
    "potential_impact": "Credential theft and fraudulent payments for retail clients.",
    "potential_criteria": ["clients_financial_counterparts_and_transactions_affected"],
    "status": "active",
    "preventive_actions": "Takedown requested; clients warned in the app.",
}


def test_annex_iii_notification_validates() -> None:
    assert load_threat_notification(NOTIFICATION).status == "active"


def test_annex_iii_missing_field_named_by_number() -> None:
    data = dict(NOTIFICATION)
    del data["primary_contact_name"]
    with pytest.raises(AssessmentError) as info:
        load_threat_notification(data)
    assert info.value.field == "Annex III 6"
