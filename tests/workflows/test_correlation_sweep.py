"""Correlations in the sweep workflow: windows and checkpoints like plain rules, each match written once."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from soar.config import Settings
from soar.detect.activities import DetectActivities
from soar.detect.alerts import alerts_index, checkpoints_index
from soar.detect.checkpoints import ensure_indices, read_checkpoints, write_checkpoints
from soar.detect.models import Checkpoint, SweepInput, SweepResult
from soar.detect.settings import DetectSettings, RuleOptions
from soar.detect.sweep import SweepWorkflow
from soar.engines.search import SearchClient
from soar.rules.compile import compile_rules
from tests.integration.correlation_data import DETECTIONS, OKTA_RULES, aligned, ingest_okta, minutes, okta

pytestmark = pytest.mark.engines

BURST_ID = "0c0e1a7e-2222-4000-8000-000000000001"
TAKEOVER_ID = "0c0e1a7e-2222-4000-8000-000000000002"
CORRELATIONS = f"""title: Failure burst
id: {BURST_ID}
name: failure_burst
status: test
level: high
correlation:
  type: event_count
  rules: [okta_sign_in_failed]
  group-by: [source.ip]
  timespan: 10m
  condition: {{gte: 5}}
---
title: Reset then grant
id: {TAKEOVER_ID}
name: reset_then_grant
status: test
level: critical
correlation:
  type: temporal_ordered
  rules: [okta_mfa_factor_reset, okta_admin_privilege_granted]
  group-by: [user.name]
  timespan: 1h
  generate: true
"""


@pytest.fixture
def rules_path(tmp_path: Path) -> Path:
    """The three Okta rules and two correlations over them: one generating its rules' alerts, one not."""
    folder = tmp_path / "rules"
    folder.mkdir()
    for name in OKTA_RULES:
        shutil.copy(DETECTIONS / "idp" / f"{name}.yml", folder)
    (folder / "correlations.yml").write_text(CORRELATIONS, "utf-8")
    return folder


async def _sweep(
    env: WorkflowEnvironment, search: SearchClient, folder: Path, detect: DetectSettings
) -> SweepResult:
    queue = f"detect-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[SweepWorkflow],
        activities=DetectActivities(search, env.client).all(),
    ):
        return await env.client.execute_workflow(
            SweepWorkflow.run,
            SweepInput(group_id="okta", rules_path=[str(folder)], settings=detect, force=True),
            id=f"sweep-okta-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            execution_timeout=timedelta(minutes=2),
        )


async def _count(search: SearchClient, rule_id: str) -> int:
    await search.es.indices.refresh(index=alerts_index("default"))
    query = {"term": {"soar.alert.rule.uuid": rule_id}}
    return int((await search.es.count(index=alerts_index("default"), query=query))["count"])


async def test_a_burst_across_two_windows_is_one_alert_and_reruns_add_none(
    workflow_env: WorkflowEnvironment, search: SearchClient, settings: Settings, rules_path: Path
) -> None:
    await ensure_indices(search, settings.namespace)
    boundary = aligned(datetime.now(UTC), timedelta(hours=1))
    burst = minutes(boundary, -3, -2, -1, 1, 2)
    spread = minutes(boundary, -40, -33, -26, -19, -12)
    lines = [
        okta(t, "user.session.start", f"u{n}@bank.example", "203.0.113.5", result="FAILURE")
        for n, t in enumerate(burst)
    ]
    lines += [
        okta(t, "user.session.start", "v@bank.example", "203.0.113.9", result="FAILURE") for t in spread
    ]
    lines += [
        okta(
            boundary - timedelta(minutes=20), "user.mfa.factor.reset_all", "adm@bank.example", "198.51.100.1"
        ),
        okta(
            boundary - timedelta(minutes=15),
            "user.account.privilege.grant",
            "adm@bank.example",
            "198.51.100.1",
        ),
    ]
    await ingest_okta(search, settings, lines)
    # Checkpoints placed so that the 30-minute windows of this run meet at the boundary, inside the burst.
    detect = DetectSettings(rules=RuleOptions(max_window="30m"))
    compiled = compile_rules([rules_path])
    end = boundary + timedelta(minutes=1) - timedelta(minutes=30)
    checkpoints = [
        Checkpoint(
            rule_id=c.rule_id, group_id="okta", content_hash=c.content_hash, time_field="@timestamp", end=end
        )
        for c in [*compiled.rules, *compiled.correlations]
    ]
    await write_checkpoints(search, settings.namespace, checkpoints)

    first = await _sweep(workflow_env, search, rules_path, detect)
    assert first.rules == 4  # the two rules of the generating correlation, and both correlations
    assert first.rule_errors == []
    assert await _count(search, BURST_ID) == 1
    assert await _count(search, TAKEOVER_ID) == 1
    by_name = {r.name: r.rule_id for r in compiled.rules}
    assert await _count(search, by_name["okta_sign_in_failed"]) == 0  # a part of a non-generating correlation
    assert await _count(search, by_name["okta_mfa_factor_reset"]) == 1  # generate: true keeps it alerting
    after = await read_checkpoints(search, settings.namespace, [BURST_ID])
    assert after[BURST_ID].end > boundary

    again = await _sweep(workflow_env, search, rules_path, detect)
    assert again.alerts_created == 0
    await search.es.indices.delete(index=checkpoints_index(settings.namespace))
    fresh = await _sweep(workflow_env, search, rules_path, DetectSettings())  # 25 hours back, other windows
    assert fresh.alerts_created == 0
    assert fresh.duplicates_skipped >= 2
    assert await _count(search, BURST_ID) == 1


async def test_a_bad_soar_attribute_skips_that_rule_and_names_it(
    workflow_env: WorkflowEnvironment, search: SearchClient, settings: Settings, rules_path: Path
) -> None:
    await ensure_indices(search, settings.namespace)
    broken = (DETECTIONS / "idp" / "okta-mfa-verification-failed.yml").read_text("utf-8")
    (rules_path / "broken.yml").write_text(
        broken + "soar:\n  threshold: {field: no.such.field, count: 3, timespan: 5m}\n"
    )
    result = await _sweep(workflow_env, search, rules_path, DetectSettings())
    [error] = result.rule_errors
    assert "broken.yml: soar.threshold.field: rule" in error
    assert "no.such.field is not a field of okta events" in error
    assert result.rules == 4  # the others still ran
