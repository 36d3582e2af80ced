"""Shared builders for the DORA tests: a neutral assessment to vary one input at a time."""

from __future__ import annotations

from typing import Any

import pytest

from soar.dora.assessment import Assessment

BASE: dict[str, Any] = {
    "entity_type": "payment_institution",
    "member_state": "DE",
    "aware_at": "2025-06-16T08:00:00+02:00",
    "classified_at": "2025-06-16T09:00:00+02:00",
}


def make(**changes: Any) -> Assessment:
    """An assessment with nothing affected, changed by keyword."""
    entity = changes.pop("entity", None)
    data = {**BASE, **changes}
    if entity is not None:
        data["entity"] = {"name": "Example Pay GmbH", **entity}
    return Assessment.model_validate(data)


@pytest.fixture
def gate() -> dict[str, Any]:
    """Inputs that meet only the critical-services gate (RTS-C Art. 6(a))."""
    return {"critical_services_affected": True}
