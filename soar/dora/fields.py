"""The ITS 2025/302 field registry (Annex I/II): lookup by number and path, and the per-stage check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from soar.dora.enums import Criterion, Stage
from soar.dora.fields_final import FINAL
from soar.dora.fields_general import GENERAL_AND_INITIAL
from soar.dora.fields_intermediate import INTERMEDIATE
from soar.dora.fieldspec import Doc, FieldSpec, criteria, get
from soar.errors import AssessmentError

FIELDS: tuple[FieldSpec, ...] = GENERAL_AND_INITIAL + INTERMEDIATE + FINAL
BY_PATH: dict[str, FieldSpec] = {spec.path: spec for spec in FIELDS}
BY_NUMBER: dict[str, FieldSpec] = {spec.number: spec for spec in FIELDS}
SECTIONS: tuple[tuple[str, str], ...] = (
    ("1", "General information"),
    ("2", "Initial notification"),
    ("3", "Intermediate report"),
    ("4", "Final report"),
)


def _item(doc: Doc, criterion: Criterion) -> Mapping[str, Any] | None:
    for item in get(doc, "incident.classificationTypes") or []:
        if isinstance(item, Mapping) and item.get("classificationCriterion") == criterion.value:
            return item
    return None


def value_of(doc: Doc, spec: FieldSpec) -> Any:
    """The value a report carries for one field (a list for fields of list items), or None."""
    if spec.criterion is not None:
        item = _item(doc, spec.criterion)
        return None if item is None else item.get(spec.path.rsplit(".", 1)[1])
    if "[]." in spec.path:
        head, tail = spec.path.split("[].", 1)
        values = [get(item, tail) for item in get(doc, head) or [] if isinstance(item, Mapping)]
        values = [v for v in values if v is not None]
        return values or None
    return get(doc, spec.path)


def _missing(value: Any) -> bool:
    return value is None or value == "" or value == [] or (isinstance(value, list) and [] in value)


def check_stage(doc: Doc, stage: Stage) -> None:
    """Reject a report that lacks a field its stage makes mandatory, or a condition makes required.

    Args:
        doc: The report in IR JSON form.
        stage: The report's stage.

    Raises:
        AssessmentError: with ``field`` set to the template field number.
    """
    for spec in FIELDS:
        if spec.since.order > stage.order:
            continue
        if spec.criterion is not None:
            needed = spec.criterion.value in criteria(doc)
        elif callable(spec.required):
            needed = spec.required(doc)
        else:
            needed = spec.required is True
        if needed and _missing(value_of(doc, spec)):
            why = "mandatory" if spec.required is True else f"required {spec.condition}"
            raise AssessmentError(
                f"{spec.label} is {why} in the {stage.value.replace('_', ' ')}", field=spec.number
            )
