"""An incident as the playbooks hold it: the assessment plus what the later reports need."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from soar.dora.assessment import Assessment, load_assessment, raise_from_validation
from soar.dora.enums import (
    Authority,
    DataProperty,
    Discovery,
    FiguresKind,
    IncidentClass,
    MemberStateImpact,
    RootCauseHL,
    ThreatTechnique,
    YesNoNA,
)
from soar.errors import AssessmentError

_STRICT = ConfigDict(extra="forbid", frozen=True)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise ValueError("must carry a UTC offset (naive timestamps are ambiguous)")
    return value


class Submissions(BaseModel):
    """When each report was actually submitted: the clocks of RTS-R Art. 5(1)(b) and (c) start here."""

    model_config = _STRICT
    initial_at: datetime | None = None
    intermediate_at: tuple[datetime, ...] = Field(default=(), description="Intermediate and updated ones")
    final_at: datetime | None = None

    @field_validator("initial_at", "final_at")
    @classmethod
    def _tz(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @field_validator("intermediate_at")
    @classmethod
    def _tz_all(cls, value: tuple[datetime, ...]) -> tuple[datetime, ...]:
        for item in value:
            _aware(item)
        return value


class RootCause(BaseModel):
    """Final-report facts (fields 4.1–4.11, 4.14)."""

    model_config = _STRICT
    high_level: tuple[RootCauseHL, ...] = Field(min_length=1)
    detailed: tuple[str, ...] = ()
    additional: tuple[str, ...] = ()
    other: str | None = None
    information: str | None = None
    resolution_summary: str | None = None
    addressed_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution_vs_planned: str | None = None
    risk_to_critical_functions: str | None = None
    information_for_resolution_authorities: str | None = None
    recoveries_eur: Decimal | None = Field(default=None, ge=0)

    @field_validator("addressed_at", "resolved_at")
    @classmethod
    def _tz(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class Recurrence(BaseModel):
    """Aggregated information on recurring non-major incidents (fields 4.15, 4.16; ITS Art. 3)."""

    model_config = _STRICT
    description: str = Field(min_length=1)
    occurred_at: tuple[datetime, ...] = Field(min_length=1)


class DoraIncident(BaseModel):
    """An incident with its DORA assessment and the facts each report stage needs.

    Later-stage facts are optional: a report of a stage is rejected, naming the template field, when a
    field that stage makes mandatory is missing.
    """

    model_config = _STRICT
    reference: str = Field(min_length=1, description="2.1")
    description: str = Field(min_length=1, description="2.4")
    assessment: Assessment
    discovery: Discovery | None = None
    business_continuity_activated: bool | None = None
    third_party_origin: str | None = Field(default=None, description="2.8")
    other_information: str | None = Field(default=None, description="2.10")
    competent_authority_code: str | None = Field(default=None, description="3.1")
    submissions: Submissions = Submissions()
    recovered_at: datetime | None = Field(default=None, description="3.3")
    numbers_are_estimates: bool = Field(
        default=True, description="3.12 (ITS Art. 1(3): estimates are allowed)"
    )
    duration_figures: FiguresKind = FiguresKind.ESTIMATES
    reputational_description: str | None = None
    member_states_impact_types: tuple[MemberStateImpact, ...] = ()
    member_states_impact_description: str | None = None
    data_losses: tuple[DataProperty, ...] = ()
    data_losses_description: str | None = None
    critical_services_description: str | None = None
    incident_types: tuple[IncidentClass, ...] = ()
    other_incident_type: str | None = None
    threat_techniques: tuple[ThreatTechnique, ...] = ()
    other_threat_techniques: str | None = None
    indicators_of_compromise: str | None = None
    functional_areas: str | None = None
    infrastructure_affected: YesNoNA | None = None
    infrastructure_components: str | None = None
    financial_interest_impact: YesNoNA | None = None
    other_authorities: tuple[Authority, ...] = ()
    other_authorities_other: str | None = None
    temporary_actions: bool | None = None
    temporary_actions_description: str | None = None
    root_cause: RootCause | None = None
    recurrence: Recurrence | None = None

    @field_validator("recovered_at")
    @classmethod
    def _tz(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @classmethod
    def from_assessment(cls, assessment: Assessment) -> DoraIncident:
        """An incident holding only an assessment, with the report facts the assessment carries.

        Raises:
            AssessmentError: if the assessment has no ``reference`` or ``description`` (fields 2.1, 2.4).
        """
        if not assessment.reference:
            raise AssessmentError("needed for a report (field 2.1)", field="reference")
        if not assessment.description:
            raise AssessmentError("needed for a report (field 2.4)", field="description")
        return cls(
            reference=assessment.reference,
            description=assessment.description,
            assessment=assessment,
            discovery=assessment.discovery,
            business_continuity_activated=assessment.business_continuity_activated,
        )


def is_incident_document(data: Any) -> bool:
    """Whether a parsed JSON document is an incident (it has an ``assessment`` object), not an assessment."""
    return isinstance(data, dict) and isinstance(data.get("assessment"), dict)


def load_incident(data: Any) -> DoraIncident:
    """Validate an incident document.

    Raises:
        AssessmentError: naming the first bad input field (``assessment.`` prefixed for the assessment).
    """
    if not is_incident_document(data):
        raise AssessmentError(
            "an incident must be a JSON object with an 'assessment' object", field="assessment"
        )
    try:  # the assessment's own rules first, so errors name its field
        load_assessment(data["assessment"])
    except AssessmentError as exc:
        raise AssessmentError(exc.reason, field=f"assessment.{exc.field}") from None
    try:
        return DoraIncident.model_validate(data)
    except ValidationError as exc:
        raise raise_from_validation(exc) from None


def load_any(data: Any) -> DoraIncident | Assessment:
    """Validate either JSON shape, detected by its keys: an incident has an ``assessment`` object."""
    return load_incident(data) if is_incident_document(data) else load_assessment(data)
