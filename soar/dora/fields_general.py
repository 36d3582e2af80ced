"""Sections 1 and 2 of the ITS 2025/302 template: general information and the initial notification."""

from __future__ import annotations

from soar.dora.enums import Criterion, Stage
from soar.dora.fieldspec import FieldSpec, amounts, get, has, present, third_party_submits

INI = Stage.INITIAL
_CT = "incident.classificationTypes[]."

GENERAL_AND_INITIAL: tuple[FieldSpec, ...] = (
    FieldSpec("1.1", "Type of submission", "incidentSubmission", INI, True),
    FieldSpec("1.2", "Name of the entity submitting the report", "submittingEntity.name", INI, True),
    FieldSpec(
        "1.3",
        "Identification code of the entity submitting the report (LEI)",
        "submittingEntity.LEI",
        INI,
        lambda d: not get(d, "submittingEntity.code"),
        "an LEI, or another identification code (1.3b) for a third-party submitter",
    ),
    FieldSpec(
        "1.3b", "Other identification code of the submitting entity", "submittingEntity.code", INI, None
    ),
    FieldSpec(
        "1.4", "Type of the affected financial entity", "affectedEntity[].affectedEntityType", INI, True
    ),
    FieldSpec(
        "1.5",
        "Name of the financial entity affected",
        "affectedEntity[].name",
        INI,
        third_party_submits,
        "when the affected entity is not the submitter",
    ),
    FieldSpec(
        "1.6",
        "LEI code of the financial entity affected",
        "affectedEntity[].LEI",
        INI,
        third_party_submits,
        "when the affected entity is not the submitter",
    ),
    FieldSpec("1.7", "Primary contact person name", "primaryContact.name", INI, True),
    FieldSpec("1.8", "Primary contact person email", "primaryContact.email", INI, True),
    FieldSpec("1.9", "Primary contact person telephone", "primaryContact.phone", INI, True),
    FieldSpec("1.10", "Second contact person name", "secondaryContact.name", INI, None),
    FieldSpec("1.11", "Second contact person email", "secondaryContact.email", INI, None),
    FieldSpec("1.12", "Second contact person telephone", "secondaryContact.phone", INI, None),
    FieldSpec(
        "1.13",
        "Name of the ultimate parent undertaking",
        "ultimateParentUndertaking.name",
        INI,
        present("ultimateParentUndertaking"),
        "when the entity belongs to a group",
    ),
    FieldSpec(
        "1.14", "LEI code of the ultimate parent undertaking", "ultimateParentUndertaking.LEI", INI, None
    ),
    FieldSpec("1.15", "Reporting currency", "reportCurrency", INI, amounts, "when amounts are reported"),
    FieldSpec(
        "2.1",
        "Incident reference code assigned by the financial entity",
        "incident.financialEntityCode",
        INI,
        True,
    ),
    FieldSpec("2.2", "Date and time of detection of the incident", "incident.detectionDateTime", INI, True),
    FieldSpec(
        "2.3",
        "Date and time of classification of the incident as major",
        "incident.classificationDateTime",
        INI,
        True,
    ),
    FieldSpec("2.4", "Description of the incident", "incident.incidentDescription", INI, True),
    FieldSpec(
        "2.5",
        "Classification criteria that triggered the incident report",
        "incident.classificationTypes[].classificationCriterion",
        INI,
        True,
    ),
    FieldSpec(
        "2.6",
        "Materiality thresholds for the criterion 'Geographical spread'",
        _CT + "countryCodeMaterialityThresholds",
        INI,
        None,
        "when geographical spread is selected in 2.5",
        Criterion.GEOGRAPHICAL,
    ),
    FieldSpec("2.7", "Discovery of the incident", "incident.incidentDiscovery", INI, True),
    FieldSpec(
        "2.8",
        "Indication whether the incident originates from a third-party provider or another financial entity",
        "incident.originatesFromThirdPartyProvider",
        INI,
        None,
    ),
    FieldSpec(
        "2.9",
        "Activation of business continuity plan, if activated",
        "incident.isBusinessContinuityActivated",
        INI,
        True,
    ),
    FieldSpec(
        "2.10",
        "Other relevant information",
        "incident.otherInformation",
        INI,
        has("incidentSubmission", Stage.RECLASSIFIED.value),
        "for a reclassification as non-major (ITS Art. 5)",
    ),
)
