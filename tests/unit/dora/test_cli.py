"""The ``soar dora`` commands through the root app: JSON output, one-line errors, files written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soar.cli.app import app
from soar.dora.document import load_document

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "dora"
runner = CliRunner()


def fixture(name: str) -> str:
    return str(FIXTURES / name)


def test_classify_json_major_payments_outage() -> None:
    result = runner.invoke(
        app, ["dora", "classify", fixture("major-payments-outage.assessment.json"), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["major"] is True
    assert data["gate"] is True
    assert data["thresholds"] == [
        "clients_financial_counterparts_and_transactions_affected",
        "reputational_impact",
        "duration_and_service_downtime",
        "geographical_spread",
        "economic_impact",
    ]
    assert data["initial_due"] == "2025-06-02T14:15:00+02:00"
    assert isinstance(data["explanation"], list)
    assert len(data["explanation"]) == 8


def test_classify_json_non_major_and_shortcut() -> None:
    non_major = json.loads(
        runner.invoke(app, ["dora", "classify", fixture("non-major.assessment.json"), "--json"]).stdout
    )
    assert non_major["major"] is False
    assert non_major["gate"] is True
    assert non_major["thresholds"] == ["duration_and_service_downtime"]
    shortcut = json.loads(
        runner.invoke(app, ["dora", "classify", fixture("malicious-access.assessment.json"), "--json"]).stdout
    )
    assert shortcut["major"] is True
    assert shortcut["thresholds"] == ["data_losses"]
    assert shortcut["initial_due"] == "2025-05-05T12:00:00+03:00"  # Saturday deadline: Monday noon, Vilnius


def test_classify_accepts_an_incident_file() -> None:
    result = runner.invoke(
        app, ["dora", "classify", fixture("major-payments-outage.incident.json"), "--json"]
    )
    assert json.loads(result.stdout)["major"] is True


def test_classify_table_for_people() -> None:
    result = runner.invoke(app, ["dora", "classify", fixture("major-payments-outage.assessment.json")])
    assert result.exit_code == 0
    assert "RTS-C Art. 9(1)" in result.stdout


def test_bad_input_is_one_line_naming_the_field() -> None:
    result = runner.invoke(app, ["dora", "classify", fixture("bad-input.assessment.json"), "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "aware_at" in lines[0]
    assert "bad-input.assessment.json" in lines[0]


def test_missing_file_and_malformed_json(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["dora", "classify", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1
    assert "cannot read" in missing.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{\n  'x': 1\n}")
    result = runner.invoke(app, ["dora", "classify", str(broken)])
    assert result.exit_code == 1
    assert "broken.json:2" in result.stderr


def test_deadlines_json_from_incident() -> None:
    result = runner.invoke(
        app,
        [
            "dora",
            "deadlines",
            fixture("major-payments-outage.incident.json"),
            "--json",
            "--now",
            "2025-07-08T00:00:00+02:00",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["timezone"] == "Europe/Berlin"
    assert data["intermediate"]["due"] == "2025-06-05T13:20:00+02:00"
    assert data["final"]["due"] == "2025-07-07T12:00:00+02:00"
    assert data["final"]["status"] == "overdue"


def test_deadlines_table_and_bad_now() -> None:
    ok = runner.invoke(app, ["dora", "deadlines", fixture("major-payments-outage.assessment.json")])
    assert ok.exit_code == 0
    assert "initial" in ok.stdout
    bad = runner.invoke(
        app, ["dora", "deadlines", fixture("major-payments-outage.assessment.json"), "--now", "2025-07-08"]
    )
    assert bad.exit_code == 1
    assert "--now" in bad.stderr


@pytest.mark.parametrize("stage", ["initial", "intermediate", "final"])
@pytest.mark.parametrize("fmt", ["json", "md", "html", "pdf"])
def test_report_each_stage_and_format(tmp_path: Path, stage: str, fmt: str) -> None:
    out = tmp_path / f"report.{fmt}"
    result = runner.invoke(
        app,
        [
            "dora",
            "report",
            fixture("major-payments-outage.incident.json"),
            "--stage",
            stage,
            "--format",
            fmt,
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    if fmt == "pdf":
        assert data.startswith(b"%PDF")
    elif fmt == "json":
        doc = load_document(json.loads(data))
        assert doc.report["incidentSubmission"].startswith(stage)
    else:
        assert b"INC-2025-0602-PAY" in data


def test_report_from_assessment_initial(tmp_path: Path) -> None:
    out = tmp_path / "initial.md"
    result = runner.invoke(
        app,
        [
            "dora",
            "report",
            fixture("major-payments-outage.assessment.json"),
            "--format",
            "md",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Initial notification" in out.read_text()


def test_report_missing_stage_field_names_its_number(tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    result = runner.invoke(
        app,
        [
            "dora",
            "report",
            fixture("major-payments-outage.assessment.json"),
            "--stage",
            "intermediate",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert ": 3.18: " in result.stderr
    assert not out.exists()


def test_report_rejects_non_major_and_unknown_stage(tmp_path: Path) -> None:
    non_major = runner.invoke(
        app, ["dora", "report", fixture("non-major.assessment.json"), "-o", str(tmp_path / "x")]
    )
    assert non_major.exit_code == 1
    assert "2.5" in non_major.stderr
    stage = runner.invoke(
        app,
        ["dora", "report", fixture("major-payments-outage.assessment.json"), "--stage", "draft", "-o", "x"],
    )
    assert stage.exit_code == 1
    assert "--stage" in stage.stderr
