"""RTS-R (2025/301) Art. 5 deadlines: the initial limbs, the 72 h and one-month clocks, weekends, holidays, DST."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from soar.dora.deadlines import compute_deadlines, initial_due
from soar.dora.incident import Submissions

from .conftest import make


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def due(**inputs: Any) -> str:
    deadline = compute_deadlines(make(**inputs)).initial.due
    assert deadline is not None
    return deadline.isoformat()


# --- initial notification: min(classification + 4 h, awareness + 24 h); Art. 5(2) late classification --------


def test_dossier_example_aware_monday_0800_classified_tuesday_0600_due_tuesday_0800() -> None:
    when, why = initial_due(at("2025-06-16T08:00:00+02:00"), at("2025-06-17T06:00:00+02:00"))
    assert when == at("2025-06-17T08:00:00+02:00")
    assert "24 h after awareness" in why


def test_four_hours_after_classification_when_earlier() -> None:
    when, _ = initial_due(at("2025-06-16T08:00:00+02:00"), at("2025-06-16T09:30:00+02:00"))
    assert when == at("2025-06-16T13:30:00+02:00")


def test_classified_exactly_24_h_after_awareness_is_due_at_once() -> None:
    # "More than 24 h" is strict: at exactly 24 h the 24 h limb still binds.
    when, _ = initial_due(at("2025-06-16T08:00:00+02:00"), at("2025-06-17T08:00:00+02:00"))
    assert when == at("2025-06-17T08:00:00+02:00")


def test_classified_more_than_24_h_after_awareness_gets_four_hours() -> None:
    when, why = initial_due(at("2025-06-16T08:00:00+02:00"), at("2025-06-17T08:00:01+02:00"))
    assert when == at("2025-06-17T12:00:01+02:00")
    assert "Art. 5(2)" in why


# --- weekend and holiday rule, with the Art. 5(5) exemptions -----------------------------------------------

SATURDAY = {"aware_at": "2025-06-21T09:00:00+02:00", "classified_at": "2025-06-21T10:00:00+02:00"}


def test_weekend_deadline_moves_to_noon_of_next_working_day() -> None:
    deadlines = compute_deadlines(make(**SATURDAY))
    assert deadlines.initial.due == at("2025-06-23T12:00:00+02:00")
    assert deadlines.initial.extended
    assert deadlines.initial.computed == at("2025-06-21T14:00:00+02:00")


@pytest.mark.parametrize("entity_type", ["credit_institution", "central_counterparty", "trading_venue"])
def test_no_extension_for_initial_of_art_5_5_entities(entity_type: str) -> None:
    assert due(entity_type=entity_type, **SATURDAY) == "2025-06-21T14:00:00+02:00"


def test_no_extension_for_nis2_essential_or_important_entities() -> None:
    assert due(entity={"nis2_essential_or_important": True}, **SATURDAY) == "2025-06-21T14:00:00+02:00"


def test_no_extension_when_the_authority_removed_it() -> None:
    entity = {"weekend_extension_removed_by_authority": True}
    assert due(entity=entity, **SATURDAY) == "2025-06-21T14:00:00+02:00"


def test_credit_institution_keeps_the_extension_for_the_final_report_only() -> None:
    subs = Submissions(
        initial_at=at("2025-06-02T13:00:00+02:00"),
        intermediate_at=(at("2025-06-05T10:00:00+02:00"),),
    )
    # Intermediate: 72 h after 2025-06-02 13:00 is Thursday; final: 2025-07-05 is a Saturday.
    deadlines = compute_deadlines(make(entity_type="credit_institution"), subs)
    assert deadlines.final.due == at("2025-07-07T12:00:00+02:00")
    subs_weekend = Submissions(initial_at=at("2025-06-18T10:00:00+02:00"))  # +72 h = Saturday
    deadlines = compute_deadlines(make(entity_type="credit_institution"), subs_weekend)
    assert deadlines.intermediate.due == at("2025-06-21T10:00:00+02:00")
    assert not deadlines.intermediate.extended
    deadlines = compute_deadlines(make(entity_type="payment_institution"), subs_weekend)
    assert deadlines.intermediate.due == at("2025-06-23T12:00:00+02:00")


def test_national_holiday_germany_unity_day() -> None:
    # Friday 3 October 2025 is a public holiday in Germany: noon on Monday 6 October.
    assert due(aware_at="2025-10-03T08:00:00+02:00", classified_at="2025-10-03T09:00:00+02:00") == (
        "2025-10-06T12:00:00+02:00"
    )


def test_holidays_are_those_of_the_member_state() -> None:
    # Monday 14 July 2025: a holiday in France, a working day in Germany.
    sunday = {"aware_at": "2025-07-13T08:00:00+02:00", "classified_at": "2025-07-13T09:00:00+02:00"}
    assert due(member_state="FR", **sunday) == "2025-07-15T12:00:00+02:00"
    assert due(member_state="DE", **sunday) == "2025-07-14T12:00:00+02:00"


def test_greek_clean_monday_in_athens_time() -> None:
    sunday = {"aware_at": "2025-03-02T08:00:00+02:00", "classified_at": "2025-03-02T09:00:00+02:00"}
    assert due(member_state="GR", **sunday) == "2025-03-04T12:00:00+02:00"


def test_easter_weekend_skips_easter_monday() -> None:
    saturday = {"aware_at": "2025-04-19T08:00:00+02:00", "classified_at": "2025-04-19T09:00:00+02:00"}
    assert due(**saturday) == "2025-04-22T12:00:00+02:00"


def test_configured_bank_holiday() -> None:
    monday = {"aware_at": "2025-06-16T08:00:00+02:00", "classified_at": "2025-06-16T09:00:00+02:00"}
    entity = {"extra_bank_holidays": ["2025-06-16", "2025-06-17"]}
    assert due(entity=entity, **monday) == "2025-06-18T12:00:00+02:00"


def test_regional_holiday_needs_the_subdivision() -> None:
    # Corpus Christi (Thursday 19 June 2025) is a holiday in Hesse, not in Berlin.
    thursday = {"aware_at": "2025-06-19T08:00:00+02:00", "classified_at": "2025-06-19T09:00:00+02:00"}
    assert due(entity={"subdivision": "HE"}, **thursday) == "2025-06-20T12:00:00+02:00"
    assert due(entity={"subdivision": "BE"}, **thursday) == "2025-06-19T13:00:00+02:00"


def test_deadline_late_on_friday_stays_on_friday() -> None:
    friday = {"aware_at": "2025-06-20T19:00:00+02:00", "classified_at": "2025-06-20T19:30:00+02:00"}
    assert due(**friday) == "2025-06-20T23:30:00+02:00"


def test_noon_is_local_time_of_the_member_state() -> None:
    # Saturday deadline for a Portuguese and a Finnish entity: noon in Lisbon and in Helsinki.
    saturday = {"aware_at": "2025-06-21T06:00:00+00:00", "classified_at": "2025-06-21T07:00:00+00:00"}
    assert due(member_state="PT", **saturday) == "2025-06-23T12:00:00+01:00"
    assert due(member_state="FI", **saturday) == "2025-06-23T12:00:00+03:00"


# --- daylight saving time ------------------------------------------------------------------------------


def test_24_hours_are_elapsed_hours_across_spring_forward() -> None:
    # Berlin moves to CEST on Sunday 30 March 2025; 24 h after Saturday 14:00 CET is Sunday 15:00 CEST.
    when, _ = initial_due(at("2025-03-29T14:00:00+01:00"), at("2025-03-30T13:00:00+02:00"))
    assert when == at("2025-03-30T15:00:00+02:00")
    assert when.astimezone(UTC) == datetime(2025, 3, 30, 13, 0, tzinfo=UTC)


def test_weekend_noon_after_spring_forward_is_cest() -> None:
    saturday = {"aware_at": "2025-03-29T14:00:00+01:00", "classified_at": "2025-03-29T15:00:00+01:00"}
    assert due(**saturday) == "2025-03-31T12:00:00+02:00"
    assert due(entity_type="credit_institution", **saturday) == "2025-03-29T19:00:00+01:00"


def test_72_hours_across_fall_back() -> None:
    subs = Submissions(initial_at=at("2025-10-23T10:00:00+02:00"))  # Thursday, CEST
    deadline = compute_deadlines(make(entity_type="credit_institution"), subs).intermediate.due
    assert deadline == at("2025-10-26T09:00:00+01:00")  # Sunday, CET: one hour earlier on the wall clock


def test_one_month_keeps_local_wall_clock_across_dst() -> None:
    subs = Submissions(
        initial_at=at("2025-03-06T10:00:00+01:00"), intermediate_at=(at("2025-03-10T10:00:00+01:00"),)
    )
    assert compute_deadlines(make(), subs).final.due == at("2025-04-10T10:00:00+02:00")


# --- intermediate and final clocks ---------------------------------------------------------------------


def test_clocks_wait_for_submissions() -> None:
    deadlines = compute_deadlines(make())
    assert deadlines.intermediate.due is None
    assert deadlines.intermediate.status == "pending"
    assert deadlines.final.due is None
    assert deadlines.final.status == "pending"


def test_final_runs_from_the_latest_updated_intermediate_report() -> None:
    subs = Submissions(
        initial_at=at("2025-01-06T10:00:00+01:00"),
        intermediate_at=(at("2025-01-08T10:00:00+01:00"), at("2025-01-31T10:00:00+01:00")),
    )
    deadlines = compute_deadlines(make(), subs)
    assert deadlines.intermediate.due == at("2025-01-09T10:00:00+01:00")
    assert deadlines.final.due == at("2025-02-28T10:00:00+01:00")  # clamped to the month's last day


def test_status_against_now() -> None:
    a = make()
    now_late = at("2025-06-16T14:00:00+02:00")
    assert compute_deadlines(a, now=now_late).initial.status == "overdue"
    assert compute_deadlines(a, now=at("2025-06-16T12:00:00+02:00")).initial.status == "open"
    late = Submissions(initial_at=at("2025-06-16T13:30:00+02:00"))
    assert compute_deadlines(a, late).initial.status == "submitted_late"
