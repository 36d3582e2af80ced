"""The ECS core check: it accepts exactly what the pydantic ``EcsCore`` model accepts, and words errors as it does."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from soar.telemetry.ecs import EcsCore, validate_core
from tests.unit.telemetry.fuzzing import FUZZ

GOOD_EVENT = {
    "kind": "event",
    "module": "envoy",
    "dataset": "envoy.access",
    "category": ["network", "web"],
    "type": ["access"],
    "action": "http-request",
    "outcome": "success",
    "original": "{}",
}
STAMPS = st.sampled_from(
    [
        "2025-03-04T08:01:12.345Z",
        "0001-01-01T00:00:00.000Z",
        "2024-02-29T23:59:59.999Z",
        "2025-02-29T10:00:00.000Z",  # no such day
        "0000-01-01T00:00:00.000Z",  # no year 0
        "2025-03-04T24:00:00.000Z",
        "2025-03-04T08:01:60.000Z",
        "2025-03-04T08:01:12Z",
        "2025-03-04T08:01:12.345+01:00",
        "2025-03-04T08:01:12.345",
        "2025-13-04T08:01:12.345Z",
        "",
    ]
)
ODD_VALUES: list[Any] = [
    None,
    "",
    "event",
    "alert",
    "nonsense",
    "success",
    "failure",
    "x",
    "\ud800",
    "a\udc80b",
    "é",
    3,
    1.5,
    True,
]
ODD_VALUES += [[], {}, ["web", None], ["\ud800"], ("web",)]
ODD = st.sampled_from(ODD_VALUES)
LISTS = st.one_of(ODD, st.lists(ODD, max_size=3), st.tuples(st.just("web")))


def _pydantic_accepts(core: dict[str, Any]) -> bool:
    try:
        EcsCore.model_validate({"@timestamp": core.get("@timestamp"), "event": core.get("event")})
    except ValidationError:
        return False
    return True


def _ours_accepts(core: dict[str, Any]) -> bool:
    try:
        validate_core(core)
    except ValidationError:
        return False
    return True


@FUZZ
@given(
    stamp=st.one_of(STAMPS, ODD),
    changes=st.dictionaries(
        st.sampled_from(
            ["kind", "module", "dataset", "category", "type", "action", "outcome", "original", "extra"]
        ),
        st.one_of(ODD, LISTS),
        max_size=3,
    ),
    removed=st.sets(st.sampled_from(list(GOOD_EVENT)), max_size=2),
)
def test_accepts_exactly_what_the_model_accepts(
    stamp: Any, changes: dict[str, Any], removed: set[str]
) -> None:
    event = {k: v for k, v in {**GOOD_EVENT, **changes}.items() if k not in removed}
    core = {"@timestamp": stamp, "event": event}
    assert _ours_accepts(core) == _pydantic_accepts(core)


@pytest.mark.parametrize("field", [*GOOD_EVENT, "extra"])
@pytest.mark.parametrize("value", [*ODD_VALUES, "missing"])
def test_each_one_field_change_is_judged_as_the_model_does(field: str, value: Any) -> None:
    event = {**GOOD_EVENT, field: value}
    if value == "missing":
        del event[field]
    core = {"@timestamp": "2025-03-04T08:01:12.345Z", "event": event}
    assert _ours_accepts(core) == _pydantic_accepts(core)


@pytest.mark.parametrize("event", [None, "event", [GOOD_EVENT], {**GOOD_EVENT, "original": ""}])
def test_errors_are_the_models(event: Any) -> None:
    core = {"@timestamp": "2025-03-04T08:01:12.345Z", "event": event}
    with pytest.raises(ValidationError) as ours:
        validate_core(core)
    with pytest.raises(ValidationError) as model:
        EcsCore.model_validate(core)
    assert ours.value.errors() == model.value.errors()


def test_a_usual_document_passes() -> None:
    validate_core({"@timestamp": "2025-03-04T08:01:12.345Z", "event": GOOD_EVENT, "source": {"ip": "::1"}})


@pytest.mark.parametrize(
    "tail", [".345Z", ".34Z", ".3456Z", ".3a5Z", ".٣٤٥Z", "x345Z", ".345z", ".345+", ".345Z ", "Z"]
)
def test_a_second_seen_before_does_not_excuse_a_bad_fraction(tail: str) -> None:
    validate_core({"@timestamp": "2025-03-04T08:01:12.000Z", "event": GOOD_EVENT})  # now a known second
    core = {"@timestamp": "2025-03-04T08:01:12" + tail, "event": GOOD_EVENT}
    assert _ours_accepts(core) == _pydantic_accepts(core)


@pytest.mark.parametrize(
    "clock", ["T10:00:00.123Z", "T24:00:00.000Z", "T23:59:60.000Z", "T12:60:00.000Z", "t10:00:00.123Z"]
)
def test_a_day_seen_before_does_not_excuse_a_bad_time_of_day(clock: str) -> None:
    validate_core({"@timestamp": "2025-03-04T00:00:00.000Z", "event": GOOD_EVENT})  # now a known day
    core = {"@timestamp": "2025-03-04" + clock, "event": GOOD_EVENT}
    assert _ours_accepts(core) == _pydantic_accepts(core)
