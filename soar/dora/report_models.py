"""The three report stages of ITS 2025/302 as pydantic models of the IR JSON, checked stage by stage."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from soar.dora.enums import (
    Authority,
    Currency,
    Discovery,
    FiguresKind,
    IncidentClass,
    RootCauseHL,
    Stage,
    ThreatTechnique,
)
from soar.dora.fields import BY_PATH, check_stage
from soar.dora.report_parts import (
    DURATION_PATTERN,
    AffectedEntity,
    ClassificationType,
    Contact,
    Entity,
    ImpactAssessment,
    IrModel,
    UtcDateTime,
)
from soar.dora.taxonomy import ADDITIONAL_VALUES, DETAILED_ROOT_CAUSES
from soar.errors import AssessmentError


class IncidentTypeBlock(IrModel):
    """Type of incident and threat techniques (3.23–3.26, 3.35)."""

    classification: list[IncidentClass] | None = Field(default=None, alias="incidentClassification")
    other_classification: str | None = Field(default=None, alias="otherIncidentClassification")
    techniques: list[ThreatTechnique] | None = Field(default=None, alias="threatTechniques")
    other_techniques: str | None = Field(default=None, alias="otherThreatTechniques")
    indicators: str | None = Field(default=None, alias="indicatorsOfCompromise")


class IncidentBlock(IrModel):
    """The ``incident`` object: fields 2.1–2.10, 3.1–3.2, 3.15, 3.23–3.26, 3.35 and 4.1–4.16."""

    reference: str | None = Field(default=None, alias="financialEntityCode")
    detected_at: UtcDateTime | None = Field(default=None, alias="detectionDateTime")
    classified_at: UtcDateTime | None = Field(default=None, alias="classificationDateTime")
    description: str | None = Field(default=None, alias="incidentDescription")
    classification_types: list[ClassificationType] | None = Field(default=None, alias="classificationTypes")
    discovery: Discovery | None = Field(default=None, alias="incidentDiscovery")
    third_party_origin: str | None = Field(default=None, alias="originatesFromThirdPartyProvider")
    business_continuity: bool | None = Field(default=None, alias="isBusinessContinuityActivated")
    other_information: str | None = Field(default=None, alias="otherInformation")
    authority_reference: str | None = Field(default=None, alias="competentAuthorityCode")
    occurred_at: UtcDateTime | None = Field(default=None, alias="incidentOccurrenceDateTime")
    duration: str | None = Field(default=None, alias="incidentDuration", pattern=DURATION_PATTERN)
    incident_type: IncidentTypeBlock | None = Field(default=None, alias="incidentType")
    root_cause_hl: list[RootCauseHL] | None = Field(default=None, alias="rootCauseHLClassification")
    root_cause_detailed: list[str] | None = Field(default=None, alias="rootCausesDetailedClassification")
    root_cause_additional: list[str] | None = Field(default=None, alias="rootCausesAdditionalClassification")
    root_cause_other: str | None = Field(default=None, alias="rootCausesOther")
    root_cause_information: str | None = Field(default=None, alias="rootCausesInformation")
    resolution_summary: str | None = Field(default=None, alias="incidentResolutionSummary")
    root_cause_addressed_at: UtcDateTime | None = Field(default=None, alias="rootCauseAddressingDateTime")
    resolved_at: UtcDateTime | None = Field(default=None, alias="incidentResolutionDateTime")
    resolution_vs_planned: str | None = Field(default=None, alias="incidentResolutionVsPlannedImplementation")
    risk_to_critical_functions: str | None = Field(default=None, alias="assessmentOfRiskToCriticalFunctions")
    resolution_authorities: str | None = Field(
        default=None, alias="informationRelevantToResolutionAuthorities"
    )
    gross_costs: float | None = Field(default=None, ge=0, alias="grossAmountIndirectDirectCosts")
    recoveries: float | None = Field(default=None, ge=0, alias="financialRecoveriesAmount")
    recurring_description: str | None = Field(default=None, alias="recurringNonMajorIncidentsDescription")
    recurring_at: UtcDateTime | None = Field(default=None, alias="recurringIncidentDate")

    @field_validator("root_cause_detailed")
    @classmethod
    def _detailed(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            if item not in DETAILED_ROOT_CAUSES:
                raise ValueError(f"{item!r} is not a field 4.2 value")
        return value

    @field_validator("root_cause_additional")
    @classmethod
    def _additional(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            if item not in ADDITIONAL_VALUES:
                raise ValueError(f"{item!r} is not a field 4.3 value")
        return value

    @model_validator(mode="after")
    def _groups(self) -> IncidentBlock:
        chosen = set(self.root_cause_hl or [])
        if not chosen:  # a missing field 4.1 is reported by the stage check, under its own number
            return self
        for item in self.root_cause_detailed or []:
            if DETAILED_ROOT_CAUSES[item] not in chosen:
                group = DETAILED_ROOT_CAUSES[item].value
                raise AssessmentError(
                    f"{item!r} belongs to {group!r}, which is not selected in 4.1", field="4.2"
                )
        return self


class IncidentReport(IrModel):
    """A major-incident report in IR JSON form; each stage subclass checks its mandatory fields."""

    stage: ClassVar[Stage]
    submission: Stage = Field(alias="incidentSubmission")
    currency: Currency | None = Field(default=None, alias="reportCurrency")
    submitting_entity: Entity | None = Field(default=None, alias="submittingEntity")
    affected_entities: list[AffectedEntity] | None = Field(default=None, alias="affectedEntity")
    primary_contact: Contact | None = Field(default=None, alias="primaryContact")
    secondary_contact: Contact | None = Field(default=None, alias="secondaryContact")
    parent: Entity | None = Field(default=None, alias="ultimateParentUndertaking")
    incident: IncidentBlock | None = None
    impact: ImpactAssessment | None = Field(default=None, alias="impactAssessment")
    duration_figures: FiguresKind | None = Field(
        default=None, alias="informationDurationServiceDowntimeActualOrEstimate"
    )
    other_authorities: list[Authority] | None = Field(default=None, alias="reportingToOtherAuthorities")
    other_authorities_other: str | None = Field(default=None, alias="reportingToOtherAuthoritiesOther")

    def to_ir(self) -> dict[str, Any]:
        """The report as IR JSON: camelCase keys, absent values omitted (never null)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @model_validator(mode="after")
    def _stage_rules(self) -> IncidentReport:
        if self.submission is not self.stage and not (
            self.stage is Stage.INITIAL and self.submission is Stage.RECLASSIFIED
        ):
            raise AssessmentError(f"must be {self.stage.value!r} for this report", field="1.1")
        check_stage(self.to_ir(), self.submission)
        return self


class InitialNotification(IncidentReport):
    """The initial notification (RTS-R Art. 2; template section 2), or a reclassification notice (ITS Art. 5)."""

    stage: ClassVar[Stage] = Stage.INITIAL
    submission: Literal[Stage.INITIAL, Stage.RECLASSIFIED] = Field(alias="incidentSubmission")


class IntermediateReport(IncidentReport):
    """The intermediate report (RTS-R Art. 3; template sections 2 and 3)."""

    stage: ClassVar[Stage] = Stage.INTERMEDIATE
    submission: Literal[Stage.INTERMEDIATE] = Field(alias="incidentSubmission")


class FinalReport(IncidentReport):
    """The final report (RTS-R Art. 4; template sections 2 to 4)."""

    stage: ClassVar[Stage] = Stage.FINAL
    submission: Literal[Stage.FINAL] = Field(alias="incidentSubmission")


REPORT_CLASSES: dict[Stage, type[IncidentReport]] = {
    Stage.INITIAL: InitialNotification,
    Stage.RECLASSIFIED: InitialNotification,
    Stage.INTERMEDIATE: IntermediateReport,
    Stage.FINAL: FinalReport,
}


def _field_number(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += "[]" if isinstance(part, int) else f".{part}"
    path = path.strip(".").removesuffix("[]")
    while path:
        if path in BY_PATH:
            return BY_PATH[path].number
        path = path.rpartition(".")[0]
    return ".".join(str(p) for p in loc) or "(document)"


def parse_report(data: Any, stage: Stage | None = None) -> IncidentReport:
    """Validate an IR JSON report against the model of its stage.

    Args:
        data: The parsed JSON object.
        stage: The stage it must be; by default the one in field 1.1.

    Returns:
        The report.

    Raises:
        AssessmentError: with ``field`` set to the template field number of the first problem.
    """
    if not isinstance(data, dict):
        raise AssessmentError("a report must be a JSON object", field="1.1")
    try:
        chosen = stage or Stage(str(data.get("incidentSubmission")))
    except ValueError:
        raise AssessmentError("missing or not a submission type", field="1.1") from None
    try:
        return REPORT_CLASSES[chosen].model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        raise AssessmentError(message, field=_field_number(tuple(first["loc"]))) from None
