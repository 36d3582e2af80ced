"""``soar incidents`` on a search clone: list, show, and the checks made before anything is signalled."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soar.cli.app import app
from soar.config import Settings
from soar.engines.embedded import free_port
from soar.engines.search import SearchClient
from soar.incidents.models import (
    ClassificationView,
    CriterionView,
    DeadlineView,
    FigureRow,
    IncidentStatus,
    IncidentView,
)
from soar.incidents.store import ensure_indices, save_incident
from soar.response.models import ActionKind, ActionState, ActionStatus, Entity, EntityKind

pytestmark = pytest.mark.engines
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def _env(search_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "SOAR_SEARCH__URLS": search_url,
        "SOAR_DATA_DIR": str(tmp_path / "data"),
        "SOAR_EMBEDDED__TEMPORAL_PORT": str(free_port()),
        "SOAR_EMBEDDED__TEMPORAL_UI_PORT": str(free_port()),
    }


def _action(action_id: str, kind: ActionKind, requested_by: str) -> ActionStatus:
    return ActionStatus(
        action_id=action_id,
        kind=kind,
        target=Entity(kind=EntityKind.USER, value="alice", system="keycloak"),
        state=ActionState.PROPOSED,
        requested_by=requested_by,
        high_impact=True,
        workflow_id=f"containment-INC-1-{action_id}",
        updated_at=NOW,
    )


def _major() -> IncidentView:
    criterion = CriterionView(
        criterion="clients_financial_counterparts_and_transactions_affected",
        label="Clients, financial counterparts and transactions affected",
        article="RTS-C Art. 9(1)",
        met=True,
        reason="(a) 420 of 3,000 clients = 14.00 % > 10.00 %: met",
    )
    return IncidentView(
        incident_id="INC-20261123-aaaaaa",
        title="Ledger unavailable to the payments API",
        opened_at=NOW,
        updated_at=NOW,
        last_activity_at=NOW,
        alerts_count=1260,
        classification=ClassificationView(
            major=True, rule="RTS-C Art. 8(1)(b)", assessed_at=NOW, classified_at=NOW, criteria=[criterion]
        ),
        deadlines=[
            DeadlineView(report="initial", due=NOW, status="open", explanation="4 h after classification")
        ],
        figures=[
            FigureRow(name="clients_affected", value="420", source="telemetry", detail="distinct clients")
        ],
        actions=[
            _action("disable_user-1a2b3c4d", ActionKind.DISABLE_USER, "carol"),
            _action("revoke_sessions-9f8e7d6c", ActionKind.REVOKE_SESSIONS, "soar:triage"),
            _action("revoke_sessions-9f000000", ActionKind.REVOKE_SESSIONS, "soar:triage"),
        ],
    )


@pytest.fixture
async def stored(search: SearchClient, settings: Settings) -> IncidentView:
    await ensure_indices(search, settings.namespace)
    view = _major()
    await save_incident(search, settings.namespace, view)
    closed = IncidentView(
        incident_id="INC-20261122-bbbbbb", opened_at=NOW.replace(day=22), updated_at=NOW, last_activity_at=NOW,
        status=IncidentStatus.CLOSED,
    )  # fmt: skip
    await save_incident(search, settings.namespace, closed)
    return view


def test_list_and_show(stored: IncidentView, search_url: str, tmp_path: Path) -> None:
    runner, env = CliRunner(), _env(search_url, tmp_path)
    listed = runner.invoke(app, ["incidents", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [json.loads(line)["incident_id"] for line in listed.stdout.splitlines()] == [
        stored.incident_id,
        "INC-20261122-bbbbbb",
    ]
    closed = runner.invoke(app, ["incidents", "list", "--status", "closed", "--json"], env=env)
    assert [json.loads(line)["incident_id"] for line in closed.stdout.splitlines()] == ["INC-20261122-bbbbbb"]
    shown = runner.invoke(app, ["incidents", "show", stored.incident_id], env=env | {"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    for text in (
        "MAJOR",
        "420 of 3,000 clients",
        "telemetry",
        "disable_user-1a2b3c4d",
        "4 h after classification",
    ):
        assert text in shown.stdout
    as_json = runner.invoke(app, ["incidents", "show", stored.incident_id, "--json"], env=env)
    assert IncidentView.model_validate_json(as_json.stdout) == stored


def test_unknown_incident_is_one_line(stored: IncidentView, search_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["incidents", "show", "INC-nope"], env=_env(search_url, tmp_path))
    assert result.exit_code == 1
    assert result.output.strip() == "error: INC-nope: no such incident"


def test_a_bad_update_is_refused_before_anything_is_sent(search_url: str, tmp_path: Path) -> None:
    runner, env = CliRunner(), _env(search_url, tmp_path)
    bad = runner.invoke(
        app, ["incidents", "update", "INC-1", "costs_eur=12", "costs=1", "--by", "ines"], env=env
    )
    assert bad.exit_code == 1
    assert bad.output.startswith("error: costs: not a field an update can set")
    assert len(bad.output.strip().splitlines()) == 1
    negative = runner.invoke(app, ["incidents", "update", "INC-1", "costs_eur=-5", "--by", "ines"], env=env)
    assert "costs_eur: Input should be greater than or equal to 0" in negative.output
    no_pair = runner.invoke(app, ["incidents", "update", "INC-1", "costs_eur", "--by", "ines"], env=env)
    assert "expected FIELD=VALUE" in no_pair.output


def test_approvals_are_checked_before_anything_is_sent(
    stored: IncidentView, search_url: str, tmp_path: Path
) -> None:
    runner, env = CliRunner(), _env(search_url, tmp_path)
    own = runner.invoke(
        app, ["incidents", "approve", stored.incident_id, "disable_user", "--by", "Carol"], env=env
    )
    assert own.exit_code == 1
    assert "--by: four-eyes: the requester cannot approve their own request" in own.output
    system = runner.invoke(
        app, ["incidents", "approve", stored.incident_id, "disable_user-1a", "--by", "soar:x"], env=env
    )
    assert "a system identity cannot decide" in system.output
    ambiguous = runner.invoke(
        app, ["incidents", "reject", stored.incident_id, "revoke_sessions", "--by", "ines"], env=env
    )
    assert ambiguous.exit_code == 1
    assert "names 2 actions (revoke_sessions-9f000000, revoke_sessions-9f8e7d6c)" in ambiguous.output
    unknown = runner.invoke(
        app, ["incidents", "approve", stored.incident_id, "nope", "--by", "ines"], env=env
    )
    assert "no action 'nope' in this incident" in unknown.output


def test_signals_to_a_workflow_that_is_not_running_fail_in_one_line(search_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["incidents", "update", "INC-20261123-000000", "costs_eur=1", "--by", "ines"],
        env=_env(search_url, tmp_path),
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: incident-INC-20261123-000000: incident INC-20261123-000000 is not running (closed or never started)"
    )


def test_a_bad_stage_is_refused(search_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["incidents", "report", "INC-1", "--stage", "draft"], env=_env(search_url, tmp_path)
    )
    assert result.exit_code == 1
    assert "--stage: must be initial, intermediate or final" in result.output
