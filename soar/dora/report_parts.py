"""Building blocks of the IR JSON report (schema IR-1.2.1): entities, contacts, criteria, impact."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from soar.dora.calendar import MEMBER_STATE_ZONES
from soar.dora.enums import (
    REPUTATIONAL_TEMPLATE,
    Criterion,
    DataProperty,
    EntityType,
    MemberStateImpact,
    NumbersKind,
    YesNoNA,
)

LEI_PATTERN = r"^[A-Z0-9]{18}[0-9]{2}$"
DURATION_PATTERN = r"^\d{1,3}:(?:[01]\d|2[0-3]):[0-5]\d$"
PHONE_PATTERN = r"^\+?[1-9]\d{1,14}(\s?\(\d+\))?([-\s.]?\d+)*$"


def _aware(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError("must carry a UTC offset")
    return value


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _country(value: str) -> str:
    if value not in MEMBER_STATE_ZONES:
        raise ValueError(f"{value!r} is not one of the 30 EU/EEA codes (Greece is GR)")
    return value


def _reputational(value: str) -> str:
    if value not in REPUTATIONAL_TEMPLATE.values():
        raise ValueError(f"{value!r} is not a field 3.13 value")
    return value


#: An aware timestamp, written as ``YYYY-MM-DDThh:mm:ssZ`` in UTC.
UtcDateTime = Annotated[datetime, AfterValidator(_aware), PlainSerializer(_utc, return_type=str)]
Country = Annotated[str, AfterValidator(_country)]
ReputationalValue = Annotated[str, AfterValidator(_reputational)]
Percentage = Annotated[float, Field(ge=0, le=100)]


class IrModel(BaseModel):
    """Base of the IR JSON models: camelCase aliases, no unknown keys (``additionalProperties: false``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class EntityRole(StrEnum):
    """Schema-level entity typing."""

    SUBMITTING = "SUBMITTING_ENTITY"
    AFFECTED = "AFFECTED_ENTITY"
    PARENT = "ULTIMATE_PARENT_UNDERTAKING_ENTITY"


class Entity(IrModel):
    """An entity of fields 1.2–1.3 (submitting) or 1.13–1.14 (ultimate parent undertaking)."""

    entity_type: EntityRole = Field(alias="entityType")
    name: str | None = None
    lei: str | None = Field(default=None, alias="LEI", pattern=LEI_PATTERN)
    code: str | None = None


class AffectedEntity(Entity):
    """An affected financial entity (fields 1.4–1.6)."""

    affected_entity_type: list[EntityType] | None = Field(default=None, alias="affectedEntityType")


class Contact(IrModel):
    """A contact person (fields 1.7–1.9, 1.10–1.12)."""

    name: str | None = None
    email: str | None = None
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)


class ClassificationType(IrModel):
    """One criterion of field 2.5 with its criterion-specific fields (2.6, 3.13–3.14, 3.18–3.21, 4.12)."""

    criterion: Criterion = Field(alias="classificationCriterion")
    countries: list[Country] | None = Field(default=None, alias="countryCodeMaterialityThresholds")
    reputational_types: list[ReputationalValue] | None = Field(default=None, alias="reputationalImpactType")
    reputational_description: str | None = Field(default=None, alias="reputationalImpactDescription")
    member_states_impact: list[MemberStateImpact] | None = Field(default=None, alias="memberStatesImpactType")
    member_states_description: str | None = Field(default=None, alias="memberStatesImpactTypeDescription")
    data_losses: list[DataProperty] | None = Field(default=None, alias="dataLosseMaterialityThresholds")
    data_losses_description: str | None = Field(default=None, alias="dataLossesDescription")
    economic_threshold: str | None = Field(default=None, alias="economicImpactMaterialityThreshold")


class Affected(IrModel):
    """Number and percentage affected (3.4–3.7, 3.9–3.10)."""

    number: int | None = Field(default=None, ge=0)
    percentage: Percentage | None = None


class AffectedAssets(IrModel):
    """Clients, counterparts and transactions affected (3.4–3.7, 3.9–3.12)."""

    clients: Affected | None = Field(default=None, alias="affectedClients")
    counterparts: Affected | None = Field(default=None, alias="affectedFinancialCounterparts")
    transactions: Affected | None = Field(default=None, alias="affectedTransactions")
    transactions_value: float | None = Field(default=None, ge=0, alias="valueOfAffectedTransactions")
    numbers_kind: list[NumbersKind] | None = Field(default=None, alias="numbersActualEstimate")


class ServiceImpact(IrModel):
    """Recovery, downtime and temporary measures (3.3, 3.16, 3.33, 3.34)."""

    restored_at: UtcDateTime | None = Field(default=None, alias="serviceRestorationDateTime")
    downtime: str | None = Field(default=None, alias="serviceDowntime", pattern=DURATION_PATTERN)
    temporary_actions: bool | None = Field(default=None, alias="isTemporaryActionsMeasuresForRecovery")
    temporary_actions_description: str | None = Field(
        default=None, alias="descriptionOfTemporaryActionsMeasuresForRecovery"
    )


class ImpactAssessment(IrModel):
    """The impact assessment of the intermediate report (3.8, 3.22, 3.27–3.30 and the blocks above)."""

    relevant_clients: bool | None = Field(default=None, alias="hasImpactOnRelevantClients")
    critical_services: str | None = Field(default=None, alias="criticalServicesAffected")
    functional_areas: str | None = Field(default=None, alias="affectedFunctionalAreas")
    infrastructure_affected: YesNoNA | None = Field(default=None, alias="isAffectedInfrastructureComponents")
    infrastructure_components: str | None = Field(default=None, alias="affectedInfrastructureComponents")
    financial_interest: YesNoNA | None = Field(default=None, alias="isImpactOnFinancialInterest")
    assets: AffectedAssets | None = Field(default=None, alias="affectedAssets")
    service: ServiceImpact | None = Field(default=None, alias="serviceImpact")


def duration_text(hours: float) -> str:
    """Format hours as the template's ``DDD:HH:MM`` (fields 3.15 and 3.16), rounded to the minute.

    Args:
        hours: A non-negative number of hours (at most 999 days).

    Returns:
        For example ``"001:02:30"`` for 26.5 hours.
    """
    minutes = round(hours * 60)
    days, rest = divmod(minutes, 24 * 60)
    return f"{days:03d}:{rest // 60:02d}:{rest % 60:02d}"
