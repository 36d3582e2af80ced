"""People's facts about an incident: ``FIELD=VALUE`` pairs, checked against the DORA assessment fields.

The fields are those of :class:`~soar.dora.assessment.Assessment` and
:class:`~soar.dora.incident.DoraIncident` that telemetry cannot know (costs, reputational impact, data
losses, description...), ``root_cause.<field>`` for the final report, ``submitted.initial|intermediate|final``
(when a report was submitted; ``now`` is accepted), ``status`` (``open`` or ``resolved``) and ``title``.
Lists are comma-separated; an empty value clears an optional field.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, TypeAdapter, ValidationError

from soar.dora.assessment import Assessment
from soar.dora.calendar import MEMBER_STATE_ZONES
from soar.dora.incident import DoraIncident, RootCause
from soar.errors import InputError

# Set by soar itself (settings, the workflow's clock, the incident id), never by an update.
_SOAR_OWNED = frozenset(
    {"entity_type", "member_state", "aware_at", "classified_at", "entity", "reference", "assessment"}
)
# Report facts kept on the incident (the assessment carries copies soar does not use).
_INCIDENT_LEVEL = frozenset({"description", "discovery", "business_continuity_activated"})
SUBMITTED = ("submitted.initial", "submitted.intermediate", "submitted.final")
STATUS_VALUES = ("open", "resolved")


class Target(BaseModel):
    """Where a field goes: the assessment, the incident, its root cause, or the workflow itself."""

    where: Literal["assessment", "incident", "root_cause", "workflow"]
    name: str


def _assessment_fields() -> dict[str, Target]:
    return {
        n: Target(where="assessment", name=n)
        for n in Assessment.model_fields
        if n not in _SOAR_OWNED and n not in _INCIDENT_LEVEL
    }


def _incident_fields() -> dict[str, Target]:
    skip = _SOAR_OWNED | {"submissions", "root_cause", "recurrence"}
    return {n: Target(where="incident", name=n) for n in DoraIncident.model_fields if n not in skip}


@cache
def targets() -> dict[str, Target]:
    """Every field an update may set, with where it goes."""
    fields = _assessment_fields() | _incident_fields()
    fields |= {f"root_cause.{n}": Target(where="root_cause", name=n) for n in RootCause.model_fields}
    fields |= {n: Target(where="workflow", name=n) for n in (*SUBMITTED, "status", "title")}
    return fields


def _model_of(target: Target) -> type[BaseModel]:
    models: dict[str, type[BaseModel]] = {
        "assessment": Assessment,
        "incident": DoraIncident,
        "root_cause": RootCause,
    }
    return models[target.where]


@dataclass(frozen=True)
class _Spec:
    adapter: TypeAdapter[Any]
    is_list: bool = False
    clearable: bool = False
    is_time: bool = False


@cache
def _spec(field: str) -> _Spec:
    """How a field's value is validated."""
    target = targets()[field]
    if target.where == "workflow":
        if field in SUBMITTED:
            return _Spec(TypeAdapter(AwareDatetime), is_time=True)
        if field == "status":
            return _Spec(TypeAdapter(Literal["open", "resolved"]))
        return _Spec(TypeAdapter(Annotated[str, Field(min_length=1, max_length=200)]))
    info = _model_of(target).model_fields[target.name]
    annotation = info.annotation
    args = typing.get_args(annotation)
    optional = type(None) in args
    inner = next((a for a in args if a is not type(None)), annotation) if optional else annotation
    is_time = inner is datetime
    if is_time:
        inner = AwareDatetime
    is_list = typing.get_origin(inner) is tuple
    typed: Any = Annotated[inner, *info.metadata] if info.metadata else inner
    return _Spec(TypeAdapter(typed), is_list, optional or is_list, is_time)


def _message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return str(first["msg"]).removeprefix("Value error, ")


def parse_value(field: str, raw: str, now: datetime) -> Any:
    """The typed value of one field.

    Args:
        field: The field name.
        raw: The value as typed.
        now: What ``now`` means for a date-time.

    Raises:
        InputError: unknown field, or a value the field does not accept (names the field).
    """
    if field not in targets():
        raise InputError("not a field an update can set (see `soar incidents update --help`)", field=field)
    spec = _spec(field)
    text = raw.strip()
    if not text:
        if not spec.clearable:
            raise InputError("needs a value", field=field)
        return () if spec.is_list else None
    value: Any = [p.strip() for p in text.split(",") if p.strip()] if spec.is_list else text
    if spec.is_time and text.lower() == "now":
        value = now
    try:
        parsed = spec.adapter.validate_python(value)
    except ValidationError as exc:
        raise InputError(f"{_message(exc)} (got {raw[:60]!r})", field=field) from None
    if field == "member_states_impacted":
        for state in parsed:
            if state not in MEMBER_STATE_ZONES:
                raise InputError(f"{state!r} is not an EU/EEA Member State code (Greece is GR)", field=field)
    return parsed


def split_pair(text: str) -> tuple[str, str]:
    """``FIELD=VALUE`` split at the first ``=``.

    Raises:
        InputError: no ``=`` or no field name.
    """
    field, sep, value = text.partition("=")
    if not sep or not field.strip():
        raise InputError("expected FIELD=VALUE", field=text[:60] or "(empty)")
    return field.strip(), value


def check_pairs(pairs: Iterable[str], now: datetime) -> dict[str, str]:
    """Validate ``FIELD=VALUE`` pairs and return them as the values to signal (``now`` resolved).

    Raises:
        InputError: the first bad pair, naming its field.
    """
    values: dict[str, str] = {}
    for pair in pairs:
        field, raw = split_pair(pair)
        parsed = parse_value(field, raw, now)
        values[field] = parsed.isoformat() if isinstance(parsed, datetime) else raw.strip()
    if not values:
        raise InputError("give at least one FIELD=VALUE", field="FIELD=VALUE")
    return values


def known_fields() -> list[str]:
    """Every field name an update accepts, sorted."""
    return sorted(targets())
