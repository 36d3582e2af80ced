"""The response file: routes, containment rules, one-line errors; the repository's own file loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from soar.detect.routing import AlertFacts
from soar.errors import ConfigError
from soar.response.catalogue import load_catalogue
from soar.response.models import ActionKind, Entity, EntityKind
from soar.response.policy import load_response_file

REPO = Path(__file__).resolve().parents[3]


def test_repository_response_file_routes_people_alerts_and_not_building_blocks() -> None:
    response = load_response_file(REPO / "response" / "routing.yml")
    high = AlertFacts(rule_id="x", level="high", source="g")
    block = AlertFacts(rule_id="x", level="informational", source="g")
    low = AlertFacts(rule_id="x", level="low", source="g")
    assert response.routing.route(high) is not None
    assert response.routing.route(block) is None
    assert response.routing.route(low) is None
    assert {r.action for r in response.containment} == set(ActionKind)


def test_containment_rule_targets_only_fitting_entities_up_to_its_priority(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text("containment:\n  - action: disable_user\n    rule_ids: [r1]\n    max_priority: 2\n")
    rule = load_response_file(path).containment[0]
    user = Entity(kind=EntityKind.USER, value="alice", system="okta")
    ip = Entity(kind=EntityKind.ADDRESS, value="81.2.69.160")
    facts = AlertFacts(rule_id="r1", level="high", source="g")
    assert rule.targets(facts, 2, [user, ip]) == [user]
    assert rule.targets(facts, 3, [user, ip]) == []
    assert rule.targets(AlertFacts(rule_id="r2", level="high", source="g"), 1, [user]) == []


def test_bad_entry_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text("containment:\n  - action: nuke_from_orbit\n")
    with pytest.raises(ConfigError, match=r"r\.yml: containment\.0\.action"):
        load_response_file(path)


def test_catalogue_finds_services_by_name_and_workload() -> None:
    catalogue = load_catalogue(REPO / "response" / "catalogue.yml")
    ledger = catalogue.find("spiffe://bank.example/ns/core/sa/ledger")
    assert ledger is not None
    assert ledger.name == "ledger"
    assert ledger.critical_function
    payments = catalogue.of_event({"envoy": {"destination": {"workload": "payments-api"}}})
    assert payments is not None
    assert payments.name == "payments"
    assert catalogue.find("nope") is None


def test_cluster_users_are_not_identity_provider_accounts(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text("containment:\n  - action: revoke_sessions\n    max_priority: 4\n")
    rule = load_response_file(path).containment[0]
    facts = AlertFacts(rule_id="r1", level="high", source="g")
    cluster = Entity(kind=EntityKind.USER, value="oidc:anna", system="kubernetes")
    okta = Entity(kind=EntityKind.USER, value="anna", system="okta")
    assert rule.targets(facts, 1, [cluster, okta]) == [okta]
