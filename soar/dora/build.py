"""Build the IR JSON report of a stage from an incident (or a bare assessment) and its classification."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from soar.dora.assessment import Assessment, Contact, EntityProfile, Party
from soar.dora.classification import Classification, classify, counted_member_states
from soar.dora.enums import REPUTATIONAL_TEMPLATE, Criterion, NumbersKind, Stage
from soar.dora.incident import DoraIncident
from soar.dora.report_models import IncidentReport, parse_report
from soar.dora.report_parts import duration_text
from soar.errors import AssessmentError

Json = dict[str, Any]


def _prune(value: Any) -> Any:
    """Drop None values and empty containers: the IR schema wants absent values omitted, never null."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != {} and v != []}
    if isinstance(value, list | tuple):
        return [_prune(v) for v in value]
    return value


def amount(eur: Decimal, profile: EntityProfile | None) -> float:
    """An amount in EUR in the reporting currency and unit of the entity (fields 1.15, 3.11, 4.13, 4.14)."""
    value = eur * (profile.eur_to_report_currency if profile else Decimal(1))
    if profile and profile.amounts_in_thousands:
        value /= 1000
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _percentage(part: Decimal | int, total: Decimal | int | None) -> float:
    if not total:
        return 0.0
    share = Decimal(part) * 100 / Decimal(total)
    return float(share.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _party(role: str, party: Party | None) -> Json | None:
    if party is None:
        return None
    return {"entityType": role, "name": party.name, "LEI": party.lei, "code": party.code}


def _contact(contact: Contact | None) -> Json | None:
    return contact.model_dump() if contact else None


def general_section(a: Assessment, stage: Stage) -> Json:
    """Fields 1.1–1.15 from the entity profile of the assessment."""
    p = a.entity
    if p is None:
        return {"incidentSubmission": stage.value}
    submitter = p.submitter or Party(name=p.name, lei=p.lei)
    return {
        "incidentSubmission": stage.value,
        "submittingEntity": _party("SUBMITTING_ENTITY", submitter),
        "affectedEntity": [
            {
                "entityType": "AFFECTED_ENTITY",
                "affectedEntityType": [a.entity_type.value],
                "name": p.name,
                "LEI": p.lei,
            }
        ],
        "primaryContact": _contact(p.primary_contact),
        "secondaryContact": _contact(p.secondary_contact),
        "ultimateParentUndertaking": _party("ULTIMATE_PARENT_UNDERTAKING_ENTITY", p.parent),
    }


def _criterion_item(criterion: Criterion, inc: DoraIncident, c: Classification, stage: Stage) -> Json:
    a = inc.assessment
    item: Json = {"classificationCriterion": criterion.value}
    later, final = stage.order >= Stage.INTERMEDIATE.order, stage is Stage.FINAL
    if criterion is Criterion.GEOGRAPHICAL:
        item["countryCodeMaterialityThresholds"] = list(counted_member_states(a))
        if later:
            item["memberStatesImpactType"] = [t.value for t in inc.member_states_impact_types]
            item["memberStatesImpactTypeDescription"] = inc.member_states_impact_description
    if criterion is Criterion.REPUTATIONAL and later:
        item["reputationalImpactType"] = [REPUTATIONAL_TEMPLATE[r] for r in a.reputational]
        item["reputationalImpactDescription"] = inc.reputational_description
    if criterion is Criterion.DATA_LOSSES and later:
        item["dataLosseMaterialityThresholds"] = [d.value for d in inc.data_losses]
        item["dataLossesDescription"] = inc.data_losses_description
    if criterion is Criterion.ECONOMIC and final:
        item["economicImpactMaterialityThreshold"] = c.result(Criterion.ECONOMIC).sentence()
    return item


def initial_section(inc: DoraIncident, c: Classification, stage: Stage) -> Json:
    """Fields 2.1–2.10 (the classification types carry the criterion-specific fields of later stages)."""
    a = inc.assessment
    return {
        "financialEntityCode": inc.reference,
        "detectionDateTime": a.aware_at,
        "classificationDateTime": a.classified_at,
        "incidentDescription": inc.description,
        "classificationTypes": [_criterion_item(k, inc, c, stage) for k in c.triggering],
        "incidentDiscovery": inc.discovery,
        "originatesFromThirdPartyProvider": inc.third_party_origin,
        "isBusinessContinuityActivated": inc.business_continuity_activated,
        "otherInformation": inc.other_information,
    }


def _numbers_kind(a: Assessment, estimates: bool) -> list[str]:
    kinds = []
    for count, actual, estimate, none in (
        (
            a.clients_affected,
            NumbersKind.ACTUAL_CLIENTS,
            NumbersKind.ESTIMATES_CLIENTS,
            NumbersKind.NO_IMPACT_CLIENTS,
        ),
        (
            a.counterparts_affected,
            NumbersKind.ACTUAL_COUNTERPARTS,
            NumbersKind.ESTIMATES_COUNTERPARTS,
            NumbersKind.NO_IMPACT_COUNTERPARTS,
        ),
        (
            a.transactions_affected,
            NumbersKind.ACTUAL_TRANSACTIONS,
            NumbersKind.ESTIMATES_TRANSACTIONS,
            NumbersKind.NO_IMPACT_TRANSACTIONS,
        ),
    ):
        kinds.append((estimate if estimates else actual) if count else none)
    return [k.value for k in kinds]


def impact_section(inc: DoraIncident, c: Classification) -> Json:
    """The ``impactAssessment`` object (3.3–3.12, 3.16, 3.22, 3.27–3.30, 3.33–3.34)."""
    a = inc.assessment
    transactions = {
        "number": a.transactions_affected,
        "percentage": _percentage(a.transactions_affected, a.transactions_daily_avg),
    }
    return {
        "hasImpactOnRelevantClients": a.relevant_clients_affected,
        "criticalServicesAffected": inc.critical_services_description
        or c.result(Criterion.CRITICAL_SERVICES).sentence(),
        "affectedFunctionalAreas": inc.functional_areas,
        "isAffectedInfrastructureComponents": inc.infrastructure_affected,
        "affectedInfrastructureComponents": inc.infrastructure_components,
        "isImpactOnFinancialInterest": inc.financial_interest_impact,
        "affectedAssets": {
            "affectedClients": {
                "number": a.clients_affected,
                "percentage": _percentage(a.clients_affected, a.clients_total),
            },
            "affectedFinancialCounterparts": {
                "number": a.counterparts_affected,
                "percentage": _percentage(a.counterparts_affected, a.counterparts_total),
            },
            "affectedTransactions": transactions if a.transactions_affected else None,
            "valueOfAffectedTransactions": amount(a.transaction_value_affected_eur, a.entity)
            if a.transaction_value_affected_eur
            else None,
            "numbersActualEstimate": _numbers_kind(a, inc.numbers_are_estimates),
        },
        "serviceImpact": {
            "serviceRestorationDateTime": inc.recovered_at,
            "serviceDowntime": duration_text(float(a.downtime_critical_hours)),
            "isTemporaryActionsMeasuresForRecovery": inc.temporary_actions,
            "descriptionOfTemporaryActionsMeasuresForRecovery": inc.temporary_actions_description,
        },
    }


def intermediate_incident(inc: DoraIncident) -> Json:
    """The intermediate-report keys of the ``incident`` object (3.1, 3.2, 3.15, 3.23–3.26, 3.35)."""
    return {
        "competentAuthorityCode": inc.competent_authority_code,
        "incidentOccurrenceDateTime": inc.assessment.occurred_at,
        "incidentDuration": duration_text(float(inc.assessment.duration_hours)),
        "incidentType": {
            "incidentClassification": list(inc.incident_types),
            "otherIncidentClassification": inc.other_incident_type,
            "threatTechniques": list(inc.threat_techniques),
            "otherThreatTechniques": inc.other_threat_techniques,
            "indicatorsOfCompromise": inc.indicators_of_compromise,
        },
    }


def final_incident(inc: DoraIncident) -> Json:
    """The final-report keys of the ``incident`` object (4.1–4.11, 4.13–4.16; 4.12 sits in 2.5's item)."""
    a, r, rec = inc.assessment, inc.root_cause, inc.recurrence
    data: Json = {"grossAmountIndirectDirectCosts": amount(a.costs_eur, a.entity)}
    if r is not None:
        data |= {
            "rootCauseHLClassification": list(r.high_level),
            "rootCausesDetailedClassification": list(r.detailed),
            "rootCausesAdditionalClassification": list(r.additional),
            "rootCausesOther": r.other,
            "rootCausesInformation": r.information,
            "incidentResolutionSummary": r.resolution_summary,
            "rootCauseAddressingDateTime": r.addressed_at,
            "incidentResolutionDateTime": r.resolved_at,
            "incidentResolutionVsPlannedImplementation": r.resolution_vs_planned,
            "assessmentOfRiskToCriticalFunctions": r.risk_to_critical_functions,
            "informationRelevantToResolutionAuthorities": r.information_for_resolution_authorities,
            "financialRecoveriesAmount": amount(r.recoveries_eur, a.entity)
            if r.recoveries_eur is not None
            else None,
        }
    if rec is not None:
        # Field 4.16 is a single date-time in the schema: the first occurrence; 4.15 lists them all.
        listed = ", ".join(t.isoformat() for t in rec.occurred_at)
        data["recurringNonMajorIncidentsDescription"] = f"{rec.description} Occurrences: {listed}."
        data["recurringIncidentDate"] = min(rec.occurred_at)
    return data


def report_data(inc: DoraIncident, stage: Stage, c: Classification | None = None) -> Json:
    """The IR JSON of a stage as a plain dict, before validation."""
    c = c or classify(inc.assessment)
    data = general_section(inc.assessment, stage)
    incident = initial_section(inc, c, stage)
    if stage.order >= Stage.INTERMEDIATE.order:
        incident |= intermediate_incident(inc)
        data["impactAssessment"] = impact_section(inc, c)
        data["informationDurationServiceDowntimeActualOrEstimate"] = inc.duration_figures
        data["reportingToOtherAuthorities"] = list(inc.other_authorities)
        data["reportingToOtherAuthoritiesOther"] = inc.other_authorities_other
    if stage is Stage.FINAL:
        incident |= final_incident(inc)
    data["incident"] = incident
    has_amounts = stage is Stage.FINAL or bool(
        inc.assessment.transaction_value_affected_eur and stage.order > 1
    )
    if has_amounts and inc.assessment.entity is not None:
        data["reportCurrency"] = inc.assessment.entity.report_currency
    return dict(_prune(data))


def build_report(source: DoraIncident | Assessment, stage: Stage) -> IncidentReport:
    """The validated report of a stage.

    Args:
        source: An incident, or an assessment that carries ``reference`` and ``description``.
        stage: The report stage.

    Returns:
        The report model.

    Raises:
        AssessmentError: naming the template field number a stage needs and the input lacks.
    """
    inc = source if isinstance(source, DoraIncident) else DoraIncident.from_assessment(source)
    c = classify(inc.assessment)
    if not c.major and stage is not Stage.RECLASSIFIED:
        raise AssessmentError(f"no report is due: {c.rule}", field="2.5")
    return parse_report(report_data(inc, stage, c), stage)
