"""The sweep workflow on the time-skipping server, its activities on a clone of the embedded search engine."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from soar.config import Settings
from soar.detect.activities import DetectActivities
from soar.detect.alerts import alerts_index, checkpoints_index
from soar.detect.checkpoints import ensure_indices, read_checkpoints, write_checkpoints
from soar.detect.execute import window_query
from soar.detect.models import RuleWindow, SweepInput, SweepResult, Window
from soar.detect.routing import Route, RoutingTable
from soar.detect.ruleset import detect_rules, sweep_groups
from soar.detect.settings import DetectSettings, RuleOptions
from soar.detect.sweep import SweepWorkflow
from soar.engines.search import SearchClient
from soar.rules.compile import compile_rules
from soar.rules.models import CompiledRule
from soar.telemetry.scenario import Scenario
from tests.workflows.stub_playbook import StubPlaybook

pytestmark = pytest.mark.engines

DETECTIONS = Path(__file__).resolve().parents[2] / "detections"
GROUPS = sweep_groups(compile_rules([DETECTIONS]))  # what each group's sweep runs, correlations included
# The rules that write one alert per hit (not parts of a correlation, not threshold / new terms / flatline).
PLAIN = {
    group: [
        r
        for r in detect_rules([m for m in members if isinstance(m, CompiledRule)], RuleOptions())
        if r.options.kind == "rule"
    ]
    for group, members in GROUPS.items()
}


async def _sweep(
    env: WorkflowEnvironment,
    search: SearchClient,
    detect: DetectSettings,
    *,
    routing: RoutingTable | None = None,
    groups: list[str] | None = None,
    force: bool = True,
) -> list[SweepResult]:
    queue = f"detect-{uuid.uuid4().hex[:8]}"
    activities = DetectActivities(search, env.client, routing)
    results = []
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[SweepWorkflow, StubPlaybook],
        activities=activities.all(),
    ):
        for group in groups or sorted(GROUPS):
            sweep = SweepInput(group_id=group, rules_path=[str(DETECTIONS)], settings=detect, force=force)
            results.append(
                await env.client.execute_workflow(
                    SweepWorkflow.run,
                    sweep,
                    id=f"sweep-{group}-{uuid.uuid4().hex[:8]}",
                    task_queue=queue,
                    execution_timeout=timedelta(minutes=2),  # a failing workflow task fails the test
                )
            )
    return results


async def _count(search: SearchClient, index: str, query: dict[str, object] | None = None) -> int:
    await search.es.indices.refresh(index=index)
    response = await search.es.count(index=index, query=query or {"match_all": {}})
    return int(response["count"])


async def _expected_hits(search: SearchClient, groups: list[str], window: Window) -> int:
    total = 0
    for group in groups:
        for rule in PLAIN[group]:
            item = RuleWindow(rule=rule, window=window, max_alerts=1)
            total += await _count(search, rule.rule.index, window_query(item))
    return total


async def _plain_alerts(search: SearchClient, groups: list[str]) -> int:
    ids = [r.rule.rule_id for group in groups for r in PLAIN[group]]
    return await _count(search, alerts_index("default"), {"terms": {"soar.alert.rule.uuid": ids}})


def _sum(results: list[SweepResult], field: str) -> int:
    return sum(int(getattr(r, field)) for r in results)


async def test_second_sweep_over_the_same_windows_creates_nothing(
    workflow_env: WorkflowEnvironment, search: SearchClient, settings: Settings, ingested: Scenario
) -> None:
    await ensure_indices(search, settings.namespace)
    first = await _sweep(workflow_env, search, DetectSettings())
    created = _sum(first, "alerts_created")
    assert created > 0
    everything = Window(start=ingested.start - timedelta(hours=2), end=datetime.now(UTC))
    assert await _count(search, alerts_index("default")) == created
    assert await _plain_alerts(search, sorted(GROUPS)) == await _expected_hits(
        search, sorted(GROUPS), everything
    )
    # Forget the checkpoints: the second sweep searches the very same windows again.
    await search.es.indices.delete(index=checkpoints_index("default"))
    second = await _sweep(workflow_env, search, DetectSettings())
    assert _sum(second, "alerts_created") == 0
    assert _sum(second, "duplicates_skipped") == created
    assert await _count(search, alerts_index("default")) == created
    # And with the checkpoints, a forced re-run searches only [checkpoint - overlap, now): nothing new.
    third = await _sweep(workflow_env, search, DetectSettings())
    assert _sum(third, "alerts_created") == 0


async def test_alert_cap_carries_the_excess_to_the_next_run(
    workflow_env: WorkflowEnvironment, search: SearchClient, settings: Settings, ingested: Scenario
) -> None:
    await ensure_indices(search, settings.namespace)
    detect = DetectSettings(rules=RuleOptions(max_alerts=7), page_size=3, concurrency=2)
    groups = ["keycloak", "okta"]
    runs = []
    for _ in range(60):
        results = await _sweep(workflow_env, search, detect, groups=groups, force=False)
        runs.append(results)
        if not any(r.capped for r in results):
            break
    assert len(runs) > 2, "the cap must have carried alerts over several runs"
    assert all(r.alerts_created <= 7 * r.rules for results in runs for r in results)
    total = sum(_sum(results, "alerts_created") for results in runs)
    everything = Window(start=ingested.start - timedelta(hours=2), end=datetime.now(UTC))
    assert await _plain_alerts(search, groups) == await _expected_hits(search, groups, everything)
    assert await _count(search, alerts_index("default")) == total


async def test_downtime_is_caught_up_and_the_gap_recorded(
    workflow_env: WorkflowEnvironment, search: SearchClient, settings: Settings, ingested: Scenario
) -> None:
    await ensure_indices(search, settings.namespace)
    detect = DetectSettings(rules=RuleOptions(max_window="1h", max_catchup="6h"))
    await _sweep(workflow_env, search, detect, groups=["okta"], force=False)
    rules = GROUPS["okta"]
    checkpoints = await read_checkpoints(search, "default", [r.rule_id for r in rules])
    assert set(checkpoints) == {r.rule_id for r in rules}
    back = {k: c.model_copy(update={"end": c.end - timedelta(hours=10)}) for k, c in checkpoints.items()}
    await write_checkpoints(search, "default", back.values())
    [result] = await _sweep(workflow_env, search, detect, groups=["okta"], force=False)
    assert result.gaps_filled == len(rules)
    assert result.gaps_missed == len(rules)
    assert result.windows == len(rules) * 7  # 6 hours of catch-up in 1-hour windows, plus the overlap
    assert result.alerts_created == 0  # everything in the caught-up span was alerted on before
    after = await read_checkpoints(search, "default", [r.rule_id for r in rules])
    for rule_id, checkpoint in after.items():
        missed, filled = checkpoint.gaps
        assert (missed.filled, filled.filled) == (False, True)
        assert missed.start == back[rule_id].end
        assert checkpoint.end > checkpoints[rule_id].end - timedelta(minutes=1)


async def test_new_alerts_are_handed_over_once(
    workflow_env: WorkflowEnvironment, search: SearchClient, settings: Settings, ingested: Scenario
) -> None:
    await ensure_indices(search, settings.namespace)
    queue = f"playbooks-{uuid.uuid4().hex[:8]}"
    routing = RoutingTable(
        routes=[Route(workflow="StubPlaybook", task_queue=queue, levels=["high", "critical"])]
    )
    async with Worker(workflow_env.client, task_queue=queue, workflows=[StubPlaybook]):
        [first] = await _sweep(workflow_env, search, DetectSettings(), routing=routing, groups=["okta"])
        index = alerts_index("default")
        routed = await _count(search, index, {"term": {"soar.alert.handover.status": "started"}})
        assert routed == first.handed_over > 0
        assert first.unrouted == first.alerts_created - routed
        # A crash between writing alerts and starting their playbooks: put some alerts back to pending.
        started = {"term": {"soar.alert.handover.status": "started"}}
        hits = (await search.es.search(index=index, query=started, size=3))["hits"]["hits"]
        for hit in hits:
            await search.es.update(
                index=index,
                id=hit["_id"],
                doc={"soar": {"alert": {"handover": {"status": "pending"}}}},
                refresh=True,
            )
        [second] = await _sweep(workflow_env, search, DetectSettings(), routing=routing, groups=["okta"])
    assert second.alerts_created == 0
    assert second.handed_over == len(hits)  # already started: not started again
    for hit in hits:
        workflow_id = f"alert-{hit['_id']}"
        handle = workflow_env.client.get_workflow_handle(workflow_id)
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
        assert await handle.result() == hit["_id"]
        doc = await search.es.get(index=index, id=hit["_id"])
        assert doc["_source"]["soar"]["alert"]["workflow_id"] == workflow_id
        assert doc["_source"]["soar"]["alert"]["handover"]["status"] == "started"
