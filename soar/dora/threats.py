"""Significant cyber threats: classification (RTS-C Art. 10) and the voluntary notification (ITS Annex III)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from soar.dora.enums import Criterion, EntityType
from soar.errors import AssessmentError

#: Criteria that alone satisfy Art. 10(c) if the threat materialised.
_TEN_C = frozenset({Criterion.CRITICAL_SERVICES, Criterion.CLIENTS, Criterion.GEOGRAPHICAL})


class ThreatAssessment(BaseModel):
    """The facts of a cyber threat, one per condition of RTS-C Art. 10."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    could_affect_critical_functions_or_others: bool = Field(description="Art. 10(a)")
    high_probability_of_materialising: bool = Field(description="Art. 10(b), weighing (i)–(iii)")
    probability_rationale: str = Field(
        default="", description="Risks, actor capability and intent, persistence"
    )
    criteria_if_materialised: tuple[Criterion, ...] = Field(
        default=(), description="Criteria the threat could meet if it materialised (Art. 10(c))"
    )


class ThreatClassification(BaseModel):
    """Whether the threat is significant, with the reason for each condition."""

    model_config = ConfigDict(frozen=True)
    significant: bool
    explanation: tuple[str, ...]


def classify_threat(t: ThreatAssessment) -> ThreatClassification:
    """Apply RTS-C Art. 10: all of (a), (b) and (c) must hold.

    For (c) the threat must be able to meet the criticality-of-services criterion (Art. 6) or the thresholds
    of Art. 9(1) or 9(4); the other thresholds may be considered but do not suffice alone.

    Args:
        t: The threat assessment.

    Returns:
        The classification.
    """
    c_hits = [c.value for c in t.criteria_if_materialised if c in _TEN_C]
    a, b, c = t.could_affect_critical_functions_or_others, t.high_probability_of_materialising, bool(c_hits)
    explanation = (
        f"Art. 10(a) could affect critical or important functions, other FEs, providers, clients or counterparts: "
        f"{'met' if a else 'not met'}",
        f"Art. 10(b) high probability of materialising: {'met' if b else 'not met'}"
        + (f" ({t.probability_rationale})" if t.probability_rationale else ""),
        f"Art. 10(c) could meet Art. 6, 9(1) or 9(4) if materialised: {'met' if c else 'not met'}"
        + (f" ({', '.join(c_hits)})" if c_hits else ""),
    )
    return ThreatClassification(significant=a and b and c, explanation=explanation)


class CyberThreatNotification(BaseModel):
    """The voluntary notification of a significant cyber threat (ITS 2025/302 Annex III, fields 1–20).

    Mandatory per Annex IV as seen: 1, 2, 6. Fields 3–5 are conditional on a third party submitting.
    Fields 7, 12–17 are required here because RTS-R Art. 6(a)–(g) lists their content (a choice: the
    Annex IV text for 7–20 was not seen); 8–11 and 18–20 are optional.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    submitting_entity_name: str = Field(min_length=1, description="1")
    submitting_entity_code: str = Field(min_length=1, description="2")
    financial_entity_types: tuple[EntityType, ...] = Field(default=(), description="3")
    financial_entity_name: str | None = Field(default=None, description="4")
    financial_entity_lei: str | None = Field(default=None, pattern=r"^[A-Z0-9]{18}[0-9]{2}$", description="5")
    primary_contact_name: str = Field(min_length=1, description="6")
    primary_contact_email: str = Field(min_length=3, description="7")
    primary_contact_phone: str | None = Field(default=None, description="8")
    secondary_contact_name: str | None = Field(default=None, description="9")
    secondary_contact_email: str | None = Field(default=None, description="10")
    secondary_contact_phone: str | None = Field(default=None, description="11")
    detected_at: datetime = Field(description="12")
    description: str = Field(min_length=1, description="13")
    potential_impact: str = Field(min_length=1, description="14")
    potential_criteria: tuple[Criterion, ...] = Field(min_length=1, description="15")
    status: str = Field(min_length=1, description="16")
    preventive_actions: str = Field(min_length=1, description="17")
    other_stakeholders_notified: str | None = Field(default=None, description="18")
    indicators_of_compromise: str | None = Field(default=None, description="19")
    other_information: str | None = Field(default=None, description="20")

    @field_validator("detected_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.utcoffset() is None:
            raise ValueError("must carry a UTC offset")
        return value


def load_threat_notification(data: Any) -> CyberThreatNotification:
    """Validate an Annex III notification, naming the Annex III field number of the first error.

    Args:
        data: The parsed JSON object.

    Returns:
        The notification.

    Raises:
        AssessmentError: with ``field`` set to the Annex III field number.
    """
    try:
        return CyberThreatNotification.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        info = CyberThreatNotification.model_fields.get(name)
        number = info.description if info and info.description else name
        raise AssessmentError(f"{name}: {first['msg']}", field=f"Annex III {number}") from None
