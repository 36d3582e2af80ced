"""The content pack (detections/) swept by ``run_once`` over the small scenario, checked against its ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from soar.config import Settings
from soar.detect.evaluate import evaluate
from soar.detect.run import run_once
from soar.engines.search import SearchClient
from soar.telemetry.scenario import Scenario

pytestmark = pytest.mark.engines

DETECTIONS = Path(__file__).resolve().parents[2] / "detections"


async def test_content_pack_alerts_on_every_story_and_a_rerun_creates_nothing(
    workflow_env: WorkflowEnvironment, search: SearchClient, settings: Settings, ingested: Scenario
) -> None:
    first = await run_once(search, workflow_env.client, settings, [DETECTIONS])
    totals = first.totals()
    assert totals["rules"] == 63  # 57 rules less 9 parts of non-generating correlations, plus 15 correlations
    assert totals["alerts_created"] > 0
    assert first.rule_errors == []
    second = await run_once(search, workflow_env.client, settings, [DETECTIONS])
    assert second.totals()["alerts_created"] == 0
    result = await evaluate(search, settings.namespace, ingested)
    assert result.alerts == totals["alerts_created"]
    missed = [s.story for s in result.stories if s.alerted_events == 0]
    assert missed == [], f"stories without any alert: {missed}"
    assert all(s.alerted_events <= s.expected_events for s in result.stories)
    # Benign traffic raises building blocks (informational rules made for correlations), not alerts for people.
    assert result.benign_alerts <= result.alerts // 20
