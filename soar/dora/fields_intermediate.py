"""Section 3 of the ITS 2025/302 template: the intermediate report."""

from __future__ import annotations

from soar.dora.enums import Criterion, Stage
from soar.dora.fieldspec import FieldSpec, criterion, has, transactions

MID = Stage.INTERMEDIATE
_CT = "incident.classificationTypes[]."
_IA = "impactAssessment."
_AA = "impactAssessment.affectedAssets."
_SI = "impactAssessment.serviceImpact."
_IT = "incident.incidentType."

INTERMEDIATE: tuple[FieldSpec, ...] = (
    FieldSpec(
        "3.1",
        "Incident reference code provided by the competent authority",
        "incident.competentAuthorityCode",
        MID,
        None,
    ),
    FieldSpec(
        "3.2", "Date and time of occurrence of the incident", "incident.incidentOccurrenceDateTime", MID, True
    ),
    FieldSpec(
        "3.3",
        "Date and time when services, activities or operations have been recovered",
        _SI + "serviceRestorationDateTime",
        MID,
        None,
    ),
    FieldSpec("3.4", "Number of clients affected", _AA + "affectedClients.number", MID, True),
    FieldSpec("3.5", "Percentage of clients affected", _AA + "affectedClients.percentage", MID, True),
    FieldSpec(
        "3.6",
        "Number of financial counterparts affected",
        _AA + "affectedFinancialCounterparts.number",
        MID,
        True,
    ),
    FieldSpec(
        "3.7",
        "Percentage of financial counterparts affected",
        _AA + "affectedFinancialCounterparts.percentage",
        MID,
        True,
    ),
    FieldSpec(
        "3.8",
        "Impact on relevant clients or financial counterparts",
        _IA + "hasImpactOnRelevantClients",
        MID,
        criterion(Criterion.CLIENTS),
        "when clients, counterparts and transactions is selected in 2.5",
    ),
    FieldSpec(
        "3.9",
        "Number of affected transactions",
        _AA + "affectedTransactions.number",
        MID,
        transactions,
        "when transactions are affected (3.12)",
    ),
    FieldSpec(
        "3.10",
        "Percentage of affected transactions",
        _AA + "affectedTransactions.percentage",
        MID,
        transactions,
        "when transactions are affected (3.12)",
    ),
    FieldSpec(
        "3.11",
        "Value of affected transactions",
        _AA + "valueOfAffectedTransactions",
        MID,
        transactions,
        "when transactions are affected (3.12)",
    ),
    FieldSpec("3.12", "Actual figures or estimates, or no impact", _AA + "numbersActualEstimate", MID, True),
    FieldSpec(
        "3.13",
        "Reputational impact",
        _CT + "reputationalImpactType",
        MID,
        None,
        "when reputational impact is selected in 2.5",
        Criterion.REPUTATIONAL,
    ),
    FieldSpec(
        "3.14",
        "Contextual information about the reputational impact",
        _CT + "reputationalImpactDescription",
        MID,
        None,
    ),
    FieldSpec("3.15", "Duration of the incident", "incident.incidentDuration", MID, True),
    FieldSpec("3.16", "Service downtime", _SI + "serviceDowntime", MID, None),
    FieldSpec(
        "3.17",
        "Actual figures or estimates for duration and service downtime",
        "informationDurationServiceDowntimeActualOrEstimate",
        MID,
        criterion(Criterion.DURATION),
        "when duration and service downtime is selected in 2.5",
    ),
    FieldSpec(
        "3.18",
        "Types of impact in the Member States",
        _CT + "memberStatesImpactType",
        MID,
        None,
        "when geographical spread is selected in 2.5",
        Criterion.GEOGRAPHICAL,
    ),
    FieldSpec(
        "3.19",
        "Description of how the incident has an impact in other Member States",
        _CT + "memberStatesImpactTypeDescription",
        MID,
        None,
        "when geographical spread is selected in 2.5",
        Criterion.GEOGRAPHICAL,
    ),
    FieldSpec(
        "3.20",
        "Materiality thresholds for the criterion 'Data losses'",
        _CT + "dataLosseMaterialityThresholds",
        MID,
        None,
        "when data losses is selected in 2.5",
        Criterion.DATA_LOSSES,
    ),
    FieldSpec(
        "3.21",
        "Description of the data losses",
        _CT + "dataLossesDescription",
        MID,
        None,
        "when data losses is selected in 2.5",
        Criterion.DATA_LOSSES,
    ),
    FieldSpec(
        "3.22",
        "Classification criterion 'Critical services affected'",
        _IA + "criticalServicesAffected",
        MID,
        True,
    ),
    FieldSpec("3.23", "Type of the incident", _IT + "incidentClassification", MID, True),
    FieldSpec(
        "3.24",
        "Other types of incidents",
        _IT + "otherIncidentClassification",
        MID,
        has(_IT + "incidentClassification", "other"),
        "when 'other' is selected in 3.23",
    ),
    FieldSpec(
        "3.25",
        "Threats and techniques used by the threat actor",
        _IT + "threatTechniques",
        MID,
        has(_IT + "incidentClassification", "cybersecurity-related"),
        "when the incident is cybersecurity-related",
    ),
    FieldSpec(
        "3.26",
        "Other types of techniques",
        _IT + "otherThreatTechniques",
        MID,
        has(_IT + "threatTechniques", "other"),
        "when 'other' is selected in 3.25",
    ),
    FieldSpec(
        "3.27", "Affected functional areas and business processes", _IA + "affectedFunctionalAreas", MID, True
    ),
    FieldSpec(
        "3.28",
        "Affected infrastructure components supporting business processes",
        _IA + "isAffectedInfrastructureComponents",
        MID,
        True,
    ),
    FieldSpec(
        "3.29",
        "Information about affected infrastructure components",
        _IA + "affectedInfrastructureComponents",
        MID,
        has(_IA + "isAffectedInfrastructureComponents", "yes"),
        "when 3.28 is 'yes'",
    ),
    FieldSpec(
        "3.30", "Impact on the financial interest of clients", _IA + "isImpactOnFinancialInterest", MID, True
    ),
    FieldSpec("3.31", "Reporting to other authorities", "reportingToOtherAuthorities", MID, True),
    FieldSpec(
        "3.32",
        "Specification of 'other' authorities",
        "reportingToOtherAuthoritiesOther",
        MID,
        has("reportingToOtherAuthorities", "other"),
        "when 'other' is selected in 3.31",
    ),
    FieldSpec(
        "3.33",
        "Temporary actions or measures taken or planned to recover",
        _SI + "isTemporaryActionsMeasuresForRecovery",
        MID,
        True,
    ),
    FieldSpec(
        "3.34",
        "Description of temporary actions and measures",
        _SI + "descriptionOfTemporaryActionsMeasuresForRecovery",
        MID,
        has(_SI + "isTemporaryActionsMeasuresForRecovery", True),
        "when 3.33 is true",
    ),
    FieldSpec(
        "3.35",
        "Indicators of compromise",
        _IT + "indicatorsOfCompromise",
        MID,
        has(_IT + "incidentClassification", "cybersecurity-related"),
        "when the incident is cybersecurity-related",
    ),
)
