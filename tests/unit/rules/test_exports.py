"""Exports: Query DSL, Lucene, ES|QL, EQL and Kibana rules, with offline ATT&CK names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soar.rules.exports import ExportFormat, export_rules
from soar.rules.exports.attack import attack_data, threat
from tests.conftest import FIXTURES
from tests.unit.rules.conftest import RULES

ENGINE = FIXTURES / "rules" / "engine"
SOCKET = ENGINE / "k8s_runtime_socket.sigma"
PATH = "kubernetes.audit.requestObject.spec.volumes.hostPath.path"


def test_attack_data_is_shipped_with_provenance_and_licence() -> None:
    data = attack_data()
    assert data["version"] == "18.1"
    assert "Terms of Use" in data["_licence"]
    assert data["techniques"]["T1611"]["name"] == "Escape to Host"


def test_threat_groups_techniques_under_named_tactics() -> None:
    (entry,) = threat(["attack.credential-access", "attack.t1110.003", "attack.t9999", "cve.2024-1"])
    assert entry["tactic"]["name"] == "Credential Access"
    (technique,) = entry["technique"]
    assert (technique["id"], technique["name"]) == ("T1110", "Brute Force")
    assert technique["subtechnique"] == [
        {
            "id": "T1110.003",
            "name": "Password Spraying",
            "reference": "https://attack.mitre.org/techniques/T1110/003",
        }
    ]


def test_technique_without_its_tactic_goes_under_its_own_tactics() -> None:
    names = {entry["tactic"]["name"] for entry in threat(["attack.t1611"])}
    assert names == {"Privilege Escalation"}


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (ExportFormat.LUCENE, f"{PATH}:*docker.sock*"),
        (ExportFormat.ESQL, "from logs-kubernetes.audit-* metadata"),
        (ExportFormat.EQL, 'any where kubernetes.audit.verb:"create"'),
    ],
)
def test_text_formats_use_ecs_names_and_the_source_index(fmt: ExportFormat, expected: str) -> None:
    result = export_rules([SOCKET], fmt)
    assert not result.errors
    assert expected in result.exported[0].text


def test_dsl_export_is_the_compiled_query() -> None:
    (item,) = export_rules([SOCKET], ExportFormat.DSL).exported
    body = json.loads(item.text)
    assert body["index"] == "logs-kubernetes.audit-*"
    assert body["query"]["bool"]["filter"][0]["term"]["kubernetes.audit.verb"]["case_insensitive"] is True


def test_kibana_licence_for_sigmahq_derived_rules(tmp_path: Path) -> None:
    folder = tmp_path / "sigmahq"
    folder.mkdir()
    (folder / "rule.yml").write_bytes(SOCKET.read_bytes())
    (item,) = export_rules([folder], ExportFormat.KIBANA).exported
    rule = json.loads(item.text)
    assert rule["license"] == "DRL-1.1"
    assert rule["version"] == 20260120


def test_unsupported_rules_are_errors_with_file_and_rule_id() -> None:
    result = export_rules([RULES / "errors" / "unknown_logsource.yml"], ExportFormat.LUCENE)
    (error,) = result.errors
    assert "unknown_logsource.yml:9:" in str(error)
    assert "maps to no soar source" in str(error)


def test_kibana_exports_correlations_as_eql_sequences() -> None:
    result = export_rules([RULES / "correlations.yml"], ExportFormat.KIBANA)
    queries = [json.loads(item.text)["query"] for item in result.exported]
    assert any(q.startswith("sequence by user.name") for q in queries)
