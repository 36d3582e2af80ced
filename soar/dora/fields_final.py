"""Section 4 of the ITS 2025/302 template: the final report."""

from __future__ import annotations

from soar.dora.enums import Criterion, Stage
from soar.dora.fieldspec import FieldSpec, any_other_root_cause, present, root_cause_with_sub_items

FIN = Stage.FINAL
_CT = "incident.classificationTypes[]."

FINAL: tuple[FieldSpec, ...] = (
    FieldSpec(
        "4.1", "High-level classification of root causes", "incident.rootCauseHLClassification", FIN, True
    ),
    FieldSpec(
        "4.2",
        "Detailed classification of root causes",
        "incident.rootCausesDetailedClassification",
        FIN,
        True,
    ),
    FieldSpec(
        "4.3",
        "Additional classification of root causes",
        "incident.rootCausesAdditionalClassification",
        FIN,
        root_cause_with_sub_items,
        "when a 4.2 value has sub-items",
    ),
    FieldSpec(
        "4.4",
        "Other types of root cause types",
        "incident.rootCausesOther",
        FIN,
        any_other_root_cause,
        "when an '*_other' value is selected in 4.2",
    ),
    FieldSpec(
        "4.5",
        "Information about the root causes of the incident",
        "incident.rootCausesInformation",
        FIN,
        True,
    ),
    FieldSpec("4.6", "Incident resolution summary", "incident.incidentResolutionSummary", FIN, True),
    FieldSpec(
        "4.7",
        "Date and time when the root cause was addressed",
        "incident.rootCauseAddressingDateTime",
        FIN,
        True,
    ),
    FieldSpec(
        "4.8",
        "Date and time when the incident was resolved",
        "incident.incidentResolutionDateTime",
        FIN,
        True,
    ),
    FieldSpec(
        "4.9",
        "Permanent resolution date different from the planned implementation date",
        "incident.incidentResolutionVsPlannedImplementation",
        FIN,
        True,
    ),
    FieldSpec(
        "4.10",
        "Assessment of risk to critical functions for resolution purposes",
        "incident.assessmentOfRiskToCriticalFunctions",
        FIN,
        None,
    ),
    FieldSpec(
        "4.11",
        "Information relevant for resolution authorities",
        "incident.informationRelevantToResolutionAuthorities",
        FIN,
        None,
    ),
    FieldSpec(
        "4.12",
        "Materiality threshold for the criterion 'Economic impact'",
        _CT + "economicImpactMaterialityThreshold",
        FIN,
        None,
        "when economic impact is selected in 2.5",
        Criterion.ECONOMIC,
    ),
    FieldSpec(
        "4.13",
        "Amount of gross direct and indirect costs and losses",
        "incident.grossAmountIndirectDirectCosts",
        FIN,
        True,
    ),
    FieldSpec("4.14", "Amount of financial recoveries", "incident.financialRecoveriesAmount", FIN, True),
    FieldSpec(
        "4.15",
        "Information on whether non-major incidents have been recurring",
        "incident.recurringNonMajorIncidentsDescription",
        FIN,
        present("incident.recurringIncidentDate"),
        "for recurring incidents (RTS-C Art. 8(2))",
    ),
    FieldSpec(
        "4.16",
        "Date and time of occurrence of recurring incidents",
        "incident.recurringIncidentDate",
        FIN,
        present("incident.recurringNonMajorIncidentsDescription"),
        "for recurring incidents (RTS-C Art. 8(2))",
    ),
)
