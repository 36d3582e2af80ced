"""The incident assessment: the facts an incident manager gives for classification (RTS-C Arts. 1–7)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from soar.dora.calendar import MEMBER_STATE_ZONES
from soar.dora.enums import ENTITY_TYPE_ALIASES, Currency, Discovery, EntityType, Reputational
from soar.errors import AssessmentError

_STRICT = ConfigDict(extra="forbid", frozen=True)


def _aware(value: datetime | None, info_name: str) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{info_name} must carry a UTC offset (naive timestamps are ambiguous)")
    return value


def _member_state(code: str) -> str:
    if code not in MEMBER_STATE_ZONES:
        raise ValueError(f"{code!r} is not an EU/EEA Member State code (ISO alpha-2; Greece is GR)")
    return code


class Party(BaseModel):
    """A named legal person with an LEI (ISO 17442) or another identification code."""

    model_config = _STRICT
    name: str = Field(min_length=1)
    lei: str | None = Field(default=None, pattern=r"^[A-Z0-9]{18}[0-9]{2}$")
    code: str | None = None


class Contact(BaseModel):
    """A contact person (fields 1.7–1.12)."""

    model_config = _STRICT
    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+?[1-9]\d{1,14}(\s?\(\d+\))?([-\s.]?\d+)*$")


class EntityProfile(BaseModel):
    """The reporting facts of the financial entity, kept as configuration beside each assessment."""

    model_config = _STRICT
    name: str = Field(min_length=1, description="Legal name of the affected entity (fields 1.2/1.5).")
    lei: str | None = Field(default=None, pattern=r"^[A-Z0-9]{18}[0-9]{2}$")
    submitter: Party | None = Field(default=None, description="A third party submitting for the entity.")
    parent: Party | None = Field(default=None, description="Ultimate parent undertaking (1.13/1.14).")
    primary_contact: Contact | None = None
    secondary_contact: Contact | None = None
    nis2_essential_or_important: bool = Field(
        default=False, description="NIS2 Art. 3 essential or important entity (RTS-R Art. 5(5))."
    )
    weekend_extension_removed_by_authority: bool = Field(
        default=False, description="The competent authority removed the extension (RTS-R Art. 5(6))."
    )
    home_member_state_counts_for_geography: bool = Field(
        default=True, description="Whether the home Member State counts towards 'two or more' (Art. 9(4))."
    )
    simplified_framework_or_microenterprise: bool = Field(
        default=False, description="Microenterprise or DORA Art. 16(1) entity: Art. 8(2) does not apply."
    )
    subdivision: str | None = Field(default=None, description="Region for regional bank holidays.")
    extra_bank_holidays: tuple[date, ...] = ()
    report_currency: Currency = Currency.EUR
    eur_to_report_currency: Decimal = Field(default=Decimal(1), gt=0)
    amounts_in_thousands: bool = Field(default=False, description="Report amounts in thousands (3.11, 4.13).")


class Assessment(BaseModel):
    """One incident as assessed: the inputs of the classification and of the reporting clocks."""

    model_config = _STRICT

    entity_type: EntityType
    member_state: str
    aware_at: datetime
    classified_at: datetime
    occurred_at: datetime | None = None
    critical_services_affected: bool = False
    authorised_services_affected: bool = False
    malicious_unauthorised_access: bool = False
    access_may_cause_data_loss: bool = False
    clients_affected: int = Field(default=0, ge=0)
    clients_total: int | None = Field(default=None, ge=0)
    relevant_clients_affected: bool = False
    counterparts_affected: int = Field(default=0, ge=0)
    counterparts_total: int | None = Field(default=None, ge=0)
    transactions_affected: int = Field(default=0, ge=0)
    transactions_daily_avg: Decimal | None = Field(default=None, ge=0)
    transaction_value_affected_eur: Decimal = Field(default=Decimal(0), ge=0)
    transaction_value_daily_avg_eur: Decimal | None = Field(default=None, ge=0)
    reputational: tuple[Reputational, ...] = ()
    duration_hours: Decimal = Field(default=Decimal(0), ge=0)
    downtime_critical_hours: Decimal = Field(default=Decimal(0), ge=0)
    member_states_impacted: tuple[str, ...] = ()
    data_loss_adverse_impact: bool = False
    costs_eur: Decimal = Field(default=Decimal(0), ge=0)
    # Optional report facts an assessment may already carry.
    reference: str | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, min_length=1)
    discovery: Discovery | None = None
    business_continuity_activated: bool | None = None
    entity: EntityProfile | None = None

    @field_validator("entity_type", mode="before")
    @classmethod
    def _entity_alias(cls, value: Any) -> Any:
        return ENTITY_TYPE_ALIASES.get(value, value) if isinstance(value, str) else value

    @field_validator("member_state")
    @classmethod
    def _state(cls, value: str) -> str:
        return _member_state(value)

    @field_validator("member_states_impacted")
    @classmethod
    def _states(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_member_state(v) for v in value))

    @field_validator("aware_at", "classified_at", "occurred_at")
    @classmethod
    def _tz(cls, value: datetime | None) -> datetime | None:
        return _aware(value, "the timestamp")

    @model_validator(mode="after")
    def _consistent(self) -> Assessment:
        pairs = (
            ("clients_affected", "clients_total"),
            ("counterparts_affected", "counterparts_total"),
            ("transactions_affected", "transactions_daily_avg"),
            ("transaction_value_affected_eur", "transaction_value_daily_avg_eur"),
        )
        for affected, total in pairs:
            if getattr(self, affected) > 0 and not getattr(self, total):
                raise AssessmentError(
                    f"required (and > 0) when {affected} > 0: it is the reference", field=total
                )
        if self.classified_at < self.aware_at:
            raise AssessmentError("is before aware_at", field="classified_at")
        if self.access_may_cause_data_loss and not self.malicious_unauthorised_access:
            raise AssessmentError(
                "needs malicious_unauthorised_access (RTS-C Art. 9(5)(b))", field="access_may_cause_data_loss"
            )
        return self


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(document)"


def raise_from_validation(exc: ValidationError, prefix: str = "") -> AssessmentError:
    """Turn the first pydantic error into an AssessmentError naming the input field.

    Args:
        exc: The pydantic error.
        prefix: A path to put before the field (for nested documents).

    Returns:
        The error to raise.
    """
    first = exc.errors()[0]
    loc = _location(tuple(first["loc"]))
    message = str(first["msg"]).removeprefix("Value error, ")
    return AssessmentError(message, field=f"{prefix}{loc}")


def load_assessment(data: Any) -> Assessment:
    """Validate an assessment document.

    Args:
        data: The parsed JSON object.

    Returns:
        The assessment.

    Raises:
        AssessmentError: naming the first bad input field.
    """
    if not isinstance(data, dict):
        raise AssessmentError("an assessment must be a JSON object", field="(document)")
    try:
        return Assessment.model_validate(data)
    except ValidationError as exc:
        raise raise_from_validation(exc) from None
