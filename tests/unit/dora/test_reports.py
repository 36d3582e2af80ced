"""Report models of ITS 2025/302: each stage validates, a missing mandatory field is named by its number."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from soar.dora.build import amount, build_report
from soar.dora.document import ReportDocument, canonical_json, digest, load_document, make_document
from soar.dora.enums import Stage
from soar.dora.incident import DoraIncident, load_any
from soar.dora.report_models import FinalReport, InitialNotification, IntermediateReport, parse_report
from soar.dora.report_parts import duration_text
from soar.errors import AssessmentError

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "dora"


def load(name: str) -> Any:
    return load_any(json.loads((FIXTURES / name).read_text()))


@pytest.fixture(scope="module")
def incident() -> DoraIncident:
    loaded = load("major-payments-outage.incident.json")
    assert isinstance(loaded, DoraIncident)
    return loaded


def report(incident: DoraIncident, stage: Stage) -> dict[str, Any]:
    return build_report(incident, stage).to_ir()


def nulls(value: Any) -> Iterator[Any]:
    if value is None:
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from nulls(v)
    elif isinstance(value, list):
        for v in value:
            yield from nulls(v)


@pytest.mark.parametrize(
    ("stage", "model"),
    [
        (Stage.INITIAL, InitialNotification),
        (Stage.INTERMEDIATE, IntermediateReport),
        (Stage.FINAL, FinalReport),
    ],
)
def test_each_stage_json_validates_against_its_model(
    incident: DoraIncident, stage: Stage, model: type
) -> None:
    data = report(incident, stage)
    assert data["incidentSubmission"] == stage.value
    assert isinstance(parse_report(json.loads(json.dumps(data))), model)
    assert not list(nulls(data))


def test_initial_notification_carries_only_sections_one_and_two(incident: DoraIncident) -> None:
    data = report(incident, Stage.INITIAL)
    assert "impactAssessment" not in data
    assert "incidentOccurrenceDateTime" not in data["incident"]
    assert data["incident"]["detectionDateTime"] == "2025-06-02T05:45:00Z"
    geo = next(
        i
        for i in data["incident"]["classificationTypes"]
        if i["classificationCriterion"] == "geographical_spread"
    )
    assert geo == {
        "classificationCriterion": "geographical_spread",
        "countryCodeMaterialityThresholds": ["DE", "AT"],
    }


def test_intermediate_figures(incident: DoraIncident) -> None:
    data = report(incident, Stage.INTERMEDIATE)
    assets = data["impactAssessment"]["affectedAssets"]
    assert assets["affectedClients"] == {"number": 180000, "percentage": 15.0}
    assert assets["affectedTransactions"] == {"number": 420000, "percentage": 21.0}
    assert assets["valueOfAffectedTransactions"] == 96000000.0
    assert data["incident"]["incidentDuration"] == "000:06:30"
    assert data["reportCurrency"] == "EUR"


@pytest.mark.parametrize(
    ("stage", "path", "number"),
    [
        (Stage.INITIAL, ("incident", "classificationDateTime"), "2.3"),
        (Stage.INITIAL, ("incident", "detectionDateTime"), "2.2"),
        (Stage.INITIAL, ("incident", "financialEntityCode"), "2.1"),
        (Stage.INITIAL, ("incident", "incidentDiscovery"), "2.7"),
        (Stage.INITIAL, ("incident", "isBusinessContinuityActivated"), "2.9"),
        (Stage.INITIAL, ("primaryContact", "email"), "1.8"),
        (Stage.INITIAL, ("submittingEntity", "name"), "1.2"),
        (Stage.INITIAL, ("submittingEntity", "LEI"), "1.3"),
        (Stage.INTERMEDIATE, ("incident", "incidentOccurrenceDateTime"), "3.2"),
        (Stage.INTERMEDIATE, ("impactAssessment", "criticalServicesAffected"), "3.22"),
        (Stage.INTERMEDIATE, ("incident", "incidentType"), "3.23"),
        (Stage.INTERMEDIATE, ("reportingToOtherAuthorities",), "3.31"),
        (Stage.INTERMEDIATE, ("informationDurationServiceDowntimeActualOrEstimate",), "3.17"),
        (Stage.FINAL, ("incident", "financialRecoveriesAmount"), "4.14"),
        (Stage.FINAL, ("incident", "rootCauseHLClassification"), "4.1"),
        (Stage.FINAL, ("incident", "incidentResolutionVsPlannedImplementation"), "4.9"),
        (Stage.FINAL, ("incident", "rootCausesAdditionalClassification"), "4.3"),
    ],
)
def test_missing_mandatory_field_is_rejected_with_its_number(
    incident: DoraIncident, stage: Stage, path: tuple[str, ...], number: str
) -> None:
    data = copy.deepcopy(report(incident, stage))
    node = data
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    with pytest.raises(AssessmentError) as info:
        parse_report(data)
    assert info.value.field == number


def _item(data: dict[str, Any], criterion: str) -> dict[str, Any]:
    items: list[dict[str, Any]] = data["incident"]["classificationTypes"]
    return next(i for i in items if i["classificationCriterion"] == criterion)


def test_criterion_fields_are_required_when_the_criterion_is_selected(incident: DoraIncident) -> None:
    data = report(incident, Stage.INITIAL)
    del _item(data, "geographical_spread")["countryCodeMaterialityThresholds"]
    with pytest.raises(AssessmentError) as info:
        parse_report(data)
    assert info.value.field == "2.6"
    final = report(incident, Stage.FINAL)
    del _item(final, "economic_impact")["economicImpactMaterialityThreshold"]
    with pytest.raises(AssessmentError) as info:
        parse_report(final)
    assert info.value.field == "4.12"


@pytest.mark.parametrize(
    ("change", "number"),
    [
        (lambda d: d["incident"]["incidentType"].update(incidentClassification=["other"]), "3.24"),
        (
            lambda d: d["incident"]["incidentType"].update(incidentClassification=["cybersecurity-related"]),
            "3.25",
        ),
        (lambda d: d.update(reportingToOtherAuthorities=["other"]), "3.32"),
        (
            lambda d: d["impactAssessment"]["serviceImpact"].pop(
                "descriptionOfTemporaryActionsMeasuresForRecovery"
            ),
            "3.34",
        ),
        (lambda d: d["impactAssessment"].pop("affectedInfrastructureComponents"), "3.29"),
        (lambda d: d["incident"].update(incidentDiscovery="newspaper"), "2.7"),
        (lambda d: d["incident"].update(incidentDuration="001:24:00"), "3.15"),
        (lambda d: _item(d, "geographical_spread").update(countryCodeMaterialityThresholds=["EL"]), "2.6"),
        (lambda d: d["impactAssessment"]["affectedAssets"]["affectedClients"].update(percentage=101), "3.5"),
        (lambda d: d.update(unexpected=1), "unexpected"),
    ],
)
def test_conditional_and_type_rules_name_the_field(incident: DoraIncident, change: Any, number: str) -> None:
    data = copy.deepcopy(report(incident, Stage.INTERMEDIATE))
    change(data)
    with pytest.raises(AssessmentError) as info:
        parse_report(data)
    assert info.value.field == number


def test_detailed_root_cause_must_belong_to_a_selected_high_level_group(incident: DoraIncident) -> None:
    data = report(incident, Stage.FINAL)
    data["incident"]["rootCauseHLClassification"] = ["human_error"]
    with pytest.raises(AssessmentError) as info:
        parse_report(data)
    assert info.value.field == "4.2"


def test_stage_must_match_field_1_1(incident: DoraIncident) -> None:
    with pytest.raises(AssessmentError) as info:
        parse_report(report(incident, Stage.INITIAL), Stage.FINAL)
    assert info.value.field == "1.1"


def test_reclassification_needs_field_2_10(incident: DoraIncident) -> None:
    data = report(incident, Stage.INITIAL)
    data["incidentSubmission"] = Stage.RECLASSIFIED.value
    with pytest.raises(AssessmentError) as info:
        parse_report(data)
    assert info.value.field == "2.10"
    data["incident"]["otherInformation"] = "Further assessment: at no time were two thresholds met."
    assert parse_report(data).submission is Stage.RECLASSIFIED


def test_assessment_alone_builds_an_initial_notification_but_not_an_intermediate() -> None:
    assessment = load("major-payments-outage.assessment.json")
    assert build_report(assessment, Stage.INITIAL).submission is Stage.INITIAL
    with pytest.raises(AssessmentError) as info:
        build_report(assessment, Stage.INTERMEDIATE)
    assert info.value.field is not None
    assert info.value.field.startswith("3.")


def test_no_report_for_a_non_major_incident() -> None:
    with pytest.raises(AssessmentError) as info:
        build_report(load("non-major.assessment.json"), Stage.INITIAL)
    assert info.value.field == "2.5"


def test_malicious_access_initial_notification() -> None:
    data = build_report(load("malicious-access.assessment.json"), Stage.INITIAL).to_ir()
    criteria = [i["classificationCriterion"] for i in data["incident"]["classificationTypes"]]
    assert criteria == ["critical_services_affected", "data_losses"]
    assert data["affectedEntity"][0]["affectedEntityType"] == ["electronic_money_institution"]


def test_document_hash_is_over_canonical_report_json(incident: DoraIncident) -> None:
    doc = make_document(incident, Stage.FINAL)
    assert doc.sha256 == digest(doc.report)
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    again = load_document(json.loads(doc.model_dump_json()))
    assert isinstance(again, ReportDocument)
    assert again.sha256 == doc.sha256


def test_document_with_tampered_content_is_rejected(incident: DoraIncident) -> None:
    data = json.loads(make_document(incident, Stage.INITIAL).model_dump_json())
    data["report"]["incident"]["incidentDescription"] = "something else"
    with pytest.raises(AssessmentError) as info:
        load_document(data)
    assert info.value.field == "sha256"


def test_document_with_an_incomplete_report_is_rejected_by_field_number(incident: DoraIncident) -> None:
    data = json.loads(make_document(incident, Stage.INITIAL).model_dump_json())
    del data["report"]["incident"]["classificationDateTime"]
    with pytest.raises(AssessmentError) as info:
        load_document(data)
    assert info.value.field == "2.3"


def test_amounts_in_report_currency_and_thousands(incident: DoraIncident) -> None:
    entity = incident.assessment.entity
    assert entity is not None
    profile = entity.model_copy(
        update={"eur_to_report_currency": Decimal("7.46"), "amounts_in_thousands": True}
    )
    assert amount(Decimal(240000), profile) == 1790.4
    assert amount(Decimal("0.005"), None) == 0.01


@pytest.mark.parametrize(
    ("hours", "text"), [(0, "000:00:00"), (6.5, "000:06:30"), (26.5, "001:02:30"), (24, "001:00:00")]
)
def test_duration_format_ddd_hh_mm(hours: float, text: str) -> None:
    assert duration_text(hours) == text
