from __future__ import annotations

from decimal import Decimal

import pytest

from soar.dora.enums import Reputational, RootCauseHL
from soar.errors import InputError
from soar.incidents.updates import check_pairs, known_fields, parse_value, split_pair
from tests.unit.incidents.helpers import T0


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("costs_eur", "250000.50", Decimal("250000.50")),
        ("critical_services_affected", "yes", True),
        ("reputational", "media, complaints", (Reputational.MEDIA, Reputational.COMPLAINTS)),
        ("member_states_impacted", "DE,AT", ("DE", "AT")),
        ("root_cause.high_level", "system_failure_malfunction", (RootCauseHL.SYSTEM_FAILURE,)),
        ("status", "resolved", "resolved"),
        ("submitted.initial", "now", T0),
        ("occurred_at", "2026-11-23T09:00:00+01:00", T0.replace(hour=8)),
        ("recovered_at", "", None),
        ("reputational", "", ()),
        ("description", "Payments down", "Payments down"),
    ],
)
def test_values_are_typed_by_the_assessment_fields(field: str, raw: str, expected: object) -> None:
    assert parse_value(field, raw, T0) == expected


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        ("costs", "1", "costs: not a field"),
        ("costs_eur", "-1", "costs_eur: Input should be greater than or equal to 0"),
        ("costs_eur", "", "costs_eur: needs a value"),
        ("reputational", "tv", "reputational: Input should be 'media'"),
        ("occurred_at", "2026-11-23T09:00:00", "occurred_at: Input should have timezone info"),
        ("member_states_impacted", "DE,XX", "member_states_impacted: 'XX' is not an EU/EEA Member State"),
        ("status", "closed", "status: Input should be 'open' or 'resolved'"),
        ("entity_type", "credit_institution", "entity_type: not a field"),
        ("aware_at", "now", "aware_at: not a field"),
    ],
)
def test_bad_values_name_their_field_in_one_line(field: str, raw: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_value(field, raw, T0)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_pairs_are_checked_and_now_is_resolved() -> None:
    values = check_pairs(["costs_eur=1200", "submitted.initial=now", "description=a=b"], T0)
    assert values == {"costs_eur": "1200", "submitted.initial": T0.isoformat(), "description": "a=b"}


def test_the_first_bad_pair_stops_the_check() -> None:
    with pytest.raises(InputError, match=r"^bogus: not a field"):
        check_pairs(["costs_eur=1", "bogus=2"], T0)
    with pytest.raises(InputError, match="expected FIELD=VALUE"):
        split_pair("costs_eur")
    with pytest.raises(InputError, match="at least one"):
        check_pairs([], T0)


def test_known_fields_cover_people_facts_but_not_soars() -> None:
    fields = known_fields()
    for name in (
        "costs_eur",
        "reputational",
        "data_losses",
        "description",
        "root_cause.high_level",
        "submitted.final",
    ):
        assert name in fields
    for name in ("aware_at", "classified_at", "entity_type", "member_state", "entity", "reference"):
        assert name not in fields
