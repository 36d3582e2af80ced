"""``soar rules`` end to end: validate, convert, match, test and lock, on the embedded engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soar.cli.app import app
from soar.telemetry.normalise import Normalised, normalise_lines
from soar.telemetry.sources import Source
from tests.conftest import FIXTURES

ENGINE = FIXTURES / "rules" / "engine"
PACK = ENGINE / "pack"
SOCKET_RULE = "5d0c3a4e-0000-4000-8000-00000000e001"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _env(search_url: str, tmp_path: Path) -> dict[str, str]:
    return {"SOAR_SEARCH__URLS": search_url, "SOAR_DATA_DIR": str(tmp_path / "data")}


def _test_args(pack: Path, fixtures: Path) -> list[str]:
    return ["rules", "test", str(pack), "--rules-root", str(pack), "--fixtures", str(fixtures)]


def test_validate_prints_one_line_per_problem_and_keeps_the_good_rules(runner: CliRunner) -> None:
    result = runner.invoke(app, ["rules", "validate", str(FIXTURES / "rules")])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(
        "unknown_field.yml:18: url.pth:" in line and "did you mean 'url.path'" in line for line in lines
    )
    assert any("unknown_logsource.yml:9:" in line for line in lines)
    assert all(line.startswith("fixtures/rules/") or "/fixtures/rules/" in line for line in lines)
    assert "rule(s) compiled" in result.stderr


def test_validate_a_clean_pack_exits_0(runner: CliRunner, tmp_path: Path) -> None:
    pack, _ = _copy_pack(tmp_path)
    result = runner.invoke(app, ["rules", "validate", str(pack)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("fmt", "ext"), [("dsl", ".json"), ("lucene", ".lucene"), ("esql", ".esql"), ("eql", ".eql")]
)
def test_convert_writes_one_file_per_rule(runner: CliRunner, tmp_path: Path, fmt: str, ext: str) -> None:
    result = runner.invoke(
        app, ["rules", "convert", str(ENGINE / "k8s_runtime_socket.sigma"), "-f", fmt, "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / f"{SOCKET_RULE}{ext}").read_text("utf-8")
    assert "docker.sock" in text
    assert "1 rule(s) converted" in result.stderr


def test_convert_kibana_is_an_elastic_security_rule_with_offline_attack_names(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["rules", "convert", str(ENGINE / "k8s_runtime_socket.sigma"), "--format", "kibana"]
    )
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    rule = json.loads(line)
    assert rule["rule_id"] == SOCKET_RULE
    assert (rule["type"], rule["language"], rule["index"]) == ("eql", "eql", ["logs-kubernetes.audit-*"])
    assert rule["query"].startswith("any where ")
    assert (rule["severity"], rule["risk_score"], rule["from"], rule["interval"]) == (
        "high",
        73,
        "now-6m",
        "5m",
    )
    (threat,) = rule["threat"]
    assert threat["tactic"] == {
        "id": "TA0004",
        "name": "Privilege Escalation",
        "reference": "https://attack.mitre.org/tactics/TA0004",
    }
    assert threat["technique"][0]["name"] == "Escape to Host"
    assert "license" not in rule  # not SigmaHQ-derived


def test_convert_exits_1_on_unsupported_rules_unless_skipped(runner: CliRunner) -> None:
    errors = str(FIXTURES / "rules" / "errors")
    failed = runner.invoke(app, ["rules", "convert", errors, "-f", "dsl"])
    assert failed.exit_code == 1
    assert "fieldref.yml" in failed.stderr
    skipped = runner.invoke(app, ["rules", "convert", errors, "-f", "dsl", "--skip-unsupported"])
    assert skipped.exit_code == 0
    assert "skipped:" in skipped.stderr
    assert "rule(s) converted to dsl" in skipped.stderr.strip().splitlines()[-1]


def test_match_raw_records_of_a_source(runner: CliRunner, search_url: str, tmp_path: Path) -> None:
    events = ENGINE / "events" / "k8s_pods.jsonl"
    args = ["rules", "match", str(ENGINE / "k8s_runtime_socket.sigma"), str(events), "--source", "kubernetes"]
    result = runner.invoke(app, args, env=_env(search_url, tmp_path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"rule": SOCKET_RULE, "matches": [1, 2, 6]}


def test_match_ecs_documents_as_given(runner: CliRunner, search_url: str, tmp_path: Path) -> None:
    raw = (ENGINE / "events" / "k8s_pods.jsonl").read_text("utf-8").splitlines()
    docs = [
        json.dumps(i.document) for i in normalise_lines(Source.KUBERNETES, raw) if isinstance(i, Normalised)
    ]
    ecs = tmp_path / "ecs.ndjson"
    ecs.write_text("\n".join(docs[::-1]) + "\n", "utf-8")  # reversed: line 1 is the old line 6
    result = runner.invoke(
        app,
        ["rules", "match", str(ENGINE / "k8s_runtime_socket_cased.sigma"), str(ecs)],
        env=_env(search_url, tmp_path),
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["matches"] == [1]


def test_match_bad_event_line_is_one_line_error(runner: CliRunner, search_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"a": 1}\nnot json\n', "utf-8")
    result = runner.invoke(
        app,
        ["rules", "match", str(ENGINE / "k8s_runtime_socket.sigma"), str(bad)],
        env=_env(search_url, tmp_path),
    )
    assert result.exit_code == 1
    assert f"{bad}:2: not JSON" in result.stderr


def test_rule_tests_of_a_pack_pass(runner: CliRunner, search_url: str, tmp_path: Path) -> None:
    pack, fixtures = _copy_pack(tmp_path)
    result = runner.invoke(app, _test_args(pack, fixtures), env=_env(search_url, tmp_path))
    assert result.exit_code == 0, result.output
    assert "2 rule(s) tested, 0 failed" in result.stderr
    assert "locked" in result.stdout


def _copy_pack(tmp_path: Path) -> tuple[Path, Path]:
    pack, fixtures = tmp_path / "detections", tmp_path / "fixtures"
    shutil.copytree(PACK, pack)
    for rule in pack.rglob("*.sigma"):
        rule.rename(rule.with_suffix(".yml"))
    shutil.copytree(ENGINE / "fixtures", fixtures)
    return pack, fixtures


def test_changed_query_without_version_bump_fails_until_bumped_and_locked(
    runner: CliRunner, search_url: str, tmp_path: Path
) -> None:
    pack, fixtures = _copy_pack(tmp_path)
    rule = pack / "kubernetes" / "runtime_socket.yml"
    rule.write_text(rule.read_text("utf-8").replace("docker.sock", "ocker.sock"), "utf-8")
    env = _env(search_url, tmp_path)
    stale = runner.invoke(app, _test_args(pack, fixtures), env=env)
    assert stale.exit_code == 1
    assert "version (modified date) did not" in stale.stderr
    rule.write_text(
        rule.read_text("utf-8").replace("date: 2026-01-20", "date: 2026-01-20\nmodified: 2026-02-01"), "utf-8"
    )
    bumped = runner.invoke(app, _test_args(pack, fixtures), env=env)
    assert bumped.exit_code == 0, bumped.output
    assert "bumped" in bumped.stdout
    locked = runner.invoke(app, ["rules", "lock", str(pack), "--lock", str(pack / "rules.lock.json")])
    assert locked.exit_code == 0
    lock = json.loads((pack / "rules.lock.json").read_text("utf-8"))
    assert lock[SOCKET_RULE]["version"] == "2026-02-01"


def test_failing_events_and_missing_fixtures_are_reported(
    runner: CliRunner, search_url: str, tmp_path: Path
) -> None:
    pack, fixtures = _copy_pack(tmp_path)
    positive = fixtures / "kubernetes" / "runtime_socket.positive.jsonl"
    negative = fixtures / "kubernetes" / "runtime_socket.negative.jsonl"
    positive.write_text(
        positive.read_text("utf-8") + negative.read_text("utf-8").splitlines()[0] + "\n", "utf-8"
    )
    (fixtures / "idp" / "keycloak_spray.negative.jsonl").unlink()
    result = runner.invoke(app, _test_args(pack, fixtures), env=_env(search_url, tmp_path))
    assert result.exit_code == 1
    assert "positive: FAIL: line(s) 4 did not match" in result.stderr
    assert "negative: FAIL: no test events" in result.stderr
    assert "2 rule(s) tested, 2 failed" in result.stderr
