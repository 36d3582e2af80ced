"""Assessment input rules: aware timestamps, Member-State codes, references, entity-type spellings."""

from __future__ import annotations

from typing import Any

import pytest

from soar.dora.assessment import Assessment, load_assessment
from soar.dora.enums import EntityType
from soar.dora.incident import DoraIncident, load_any, load_incident
from soar.errors import AssessmentError

from .conftest import BASE


def field_of(**changes: Any) -> str | None:
    with pytest.raises(AssessmentError) as info:
        load_assessment({**BASE, **changes})
    return info.value.field


@pytest.mark.parametrize("name", ["aware_at", "classified_at", "occurred_at"])
def test_naive_timestamps_are_rejected_naming_the_field(name: str) -> None:
    assert field_of(**{name: "2025-06-16T10:00:00"}) == name


def test_greece_is_gr_not_el() -> None:
    assert field_of(member_state="EL") == "member_state"
    assert load_assessment({**BASE, "member_state": "GR"}).member_state == "GR"


def test_impacted_member_states_are_checked() -> None:
    with pytest.raises(AssessmentError, match="'UK' is not an EU/EEA Member State") as info:
        load_assessment({**BASE, "member_states_impacted": ["DE", "UK"]})
    assert info.value.field == "member_states_impacted"


def test_affected_needs_its_reference_total() -> None:
    assert field_of(clients_affected=5) == "clients_total"
    assert field_of(transactions_affected=5) == "transactions_daily_avg"


def test_classification_before_awareness_is_rejected() -> None:
    assert field_of(classified_at="2025-06-16T07:00:00+02:00") == "classified_at"


def test_data_loss_possibility_needs_a_malicious_access() -> None:
    assert field_of(access_may_cause_data_loss=True) == "access_may_cause_data_loss"


def test_unknown_keys_and_bad_values_name_the_field() -> None:
    assert field_of(client_affected=5) == "client_affected"
    assert field_of(clients_affected=-1) == "clients_affected"
    assert field_of(reputational=["tv"]) == "reputational.0"
    assert field_of(entity_type="bank") == "entity_type"


@pytest.mark.parametrize("spelling", ["e_money_institution", "electronic_money_institution"])
def test_e_money_spellings(spelling: str) -> None:
    assessment = load_assessment({**BASE, "entity_type": spelling})
    assert assessment.entity_type is EntityType.ELECTRONIC_MONEY_INSTITUTION


def test_required_inputs() -> None:
    data = dict(BASE)
    del data["member_state"]
    with pytest.raises(AssessmentError) as info:
        load_assessment(data)
    assert info.value.field == "member_state"


def test_incident_shape_is_detected_and_errors_are_prefixed() -> None:
    incident = {"reference": "R-1", "description": "d", "assessment": dict(BASE)}
    loaded = load_any(incident)
    assert isinstance(loaded, DoraIncident)
    assert loaded.reference == "R-1"
    plain = load_any(dict(BASE))
    assert isinstance(plain, Assessment)
    assert plain.member_state == "DE"
    bad = {**incident, "assessment": {**BASE, "aware_at": "2025-06-16T08:00:00"}}
    with pytest.raises(AssessmentError) as info:
        load_incident(bad)
    assert info.value.field == "assessment.aware_at"
    with pytest.raises(AssessmentError) as info:
        load_incident({**incident, "submissions": {"initial_at": "2025-06-16T10:00:00"}})
    assert info.value.field == "submissions.initial_at"
