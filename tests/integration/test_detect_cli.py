"""``soar detect run --once`` end to end: configured search clone, Temporal embedded for the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soar.cli.app import app
from soar.engines.embedded import free_port

pytestmark = pytest.mark.engines

DETECTIONS = Path(__file__).resolve().parents[2] / "detections"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _env(search_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "SOAR_SEARCH__URLS": search_url,
        "SOAR_DATA_DIR": str(tmp_path / "data"),
        "SOAR_EMBEDDED__TEMPORAL_PORT": str(free_port()),
        "SOAR_EMBEDDED__TEMPORAL_UI_PORT": str(free_port()),
    }


def _last_json(output: str) -> dict[str, int]:
    line = output.strip().splitlines()[-1]
    data: dict[str, int] = json.loads(line)
    return data


def test_run_once_twice_creates_alerts_once(runner: CliRunner, search_url: str, tmp_path: Path) -> None:
    env = _env(search_url, tmp_path)
    ingest = runner.invoke(app, ["ingest", "--scenario", "small"], env=env)
    assert ingest.exit_code == 0, ingest.output
    args = ["detect", "run", "--once", "--rules", str(DETECTIONS), "--json"]
    first = runner.invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    counts = _last_json(first.stdout)
    assert set(counts) == {"rules", "windows", "alerts_created", "duplicates_skipped", "gaps_filled"}
    assert counts["rules"] == 63  # rules that alert on their own, and the correlations
    assert counts["alerts_created"] > 0
    second = runner.invoke(app, args, env=env)
    assert second.exit_code == 0, second.output
    assert _last_json(second.stdout)["alerts_created"] == 0
    listed = runner.invoke(app, ["alerts", "list", "--json", "--limit", "3"], env=env)
    assert listed.exit_code == 0, listed.output
    alerts = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(alerts) == 3
    assert all(not a["soar"]["alert"]["building_block"] for a in alerts)
    evaluated = runner.invoke(app, ["detect", "evaluate", "--scenario", "small", "--json"], env=env)
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert all(story["alerted_events"] > 0 for story in report["stories"])


def test_pause_of_an_unknown_group_is_one_line(runner: CliRunner, search_url: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["detect", "pause", "nosuchgroup"], env=_env(search_url, tmp_path))
    assert result.exit_code == 1
    assert "detect-sweep-nosuchgroup" in result.output
    assert "Traceback" not in result.output
