"""``soar telemetry normalize`` and ``soar ingest`` through the real CLI, on the embedded engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soar.cli.app import app
from soar.telemetry.normalise import DeadLetter, normalise_lines
from soar.telemetry.sources import Source
from tests.conftest import FIXTURES

TELEMETRY = FIXTURES / "telemetry"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_normalize_prints_one_ecs_document_per_good_record(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["telemetry", "normalize", "--source", "kubernetes", str(TELEMETRY / "kubernetes/audit.jsonl")]
    )
    assert result.exit_code == 0, result.stderr
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    raw = [line for line in (TELEMETRY / "kubernetes/audit.jsonl").read_text().splitlines() if line.strip()]
    assert len(docs) == len(raw)
    assert all(d["event"]["dataset"] == "kubernetes.audit" for d in docs)
    assert [d["event"]["original"] for d in docs] == raw


def test_normalize_reports_bad_records_with_line_numbers_and_exits_1(runner: CliRunner) -> None:
    bad_file = TELEMETRY / "okta/bad.jsonl"
    expected = [
        i.line
        for i in normalise_lines(Source.OKTA, bad_file.read_text().splitlines())
        if isinstance(i, DeadLetter)
    ]
    result = runner.invoke(app, ["telemetry", "normalize", "--source", "okta", str(bad_file)])
    assert result.exit_code == 1
    reported = [line for line in result.stderr.splitlines() if line.startswith(str(bad_file))]
    assert [int(line.split(":")[1]) for line in reported] == expected
    assert f"{len(expected)} bad record(s)" in result.stderr


def test_normalize_unknown_source_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["telemetry", "normalize", "--source", "splunk", "x"])
    assert result.exit_code == 2
    assert "splunk" in result.stderr


def test_normalize_missing_file_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["telemetry", "normalize", "--source", "okta", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 1
    assert "nope.jsonl: cannot read" in result.stderr
    assert "Traceback" not in result.stderr


def _env(search_url: str, tmp_path: Path) -> dict[str, str]:
    return {"SOAR_SEARCH__URLS": search_url, "SOAR_DATA_DIR": str(tmp_path / "data")}


def test_ingest_files_prints_counts_per_index(runner: CliRunner, search_url: str, tmp_path: Path) -> None:
    files = [str(TELEMETRY / "okta/system.jsonl"), str(TELEMETRY / "okta/bad.jsonl")]
    result = runner.invoke(
        app, ["ingest", "--source", "okta", *files, "--json"], env=_env(search_url, tmp_path)
    )
    assert result.exit_code == 0, result.stderr
    counts = json.loads(result.stdout.splitlines()[-1])
    assert counts["logs-okta.system-default"]["indexed"] >= 8
    assert (
        counts["soar-deadletter-default"]["dead_lettered"]
        == counts["logs-okta.system-default"]["dead_lettered"]
        > 0
    )


def test_ingest_scenario_keeps_ground_truth(runner: CliRunner, search_url: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", "--scenario", "small", "--json"], env=_env(search_url, tmp_path))
    assert result.exit_code == 0, result.stderr
    counts = json.loads(result.stdout.splitlines()[-1])
    assert set(counts) >= {
        f"logs-{d}-default"
        for d in ("envoy.access", "okta.system", "kubernetes.audit", "payments.transaction")
    }
    assert all(c["dead_lettered"] == 0 for c in counts.values())
    truth = json.loads((tmp_path / "data/scenarios/small-1337.json").read_text())
    assert truth["stories"]
    assert sum(c["indexed"] + c["duplicates"] for c in counts.values()) == sum(truth["counts"].values())


def test_ingest_needs_files_or_a_scenario(runner: CliRunner, search_url: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest"], env=_env(search_url, tmp_path))
    assert result.exit_code == 1
    assert "--scenario" in result.stderr
