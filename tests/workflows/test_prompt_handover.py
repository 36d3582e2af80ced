"""The step that writes alerts starts their playbooks as it writes them, and what it cannot start stays pending."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from soar.detect.alerts import alerts_index, handover_workflow_id
from soar.detect.checkpoints import ensure_indices
from soar.detect.execute import search_window
from soar.detect.handover import PromptHandOver, hand_over
from soar.detect.models import HandOverOutput
from soar.detect.routing import Route, RoutingTable
from soar.engines.search import SearchClient
from tests.integration.test_detect_paging import _events, _spec
from tests.workflows.stub_playbook import StubPlaybook

pytestmark = pytest.mark.engines


async def _by_status(search: SearchClient) -> dict[str, list[str]]:
    response = await search.es.search(
        index=alerts_index("default"), size=100, source_includes=["soar.alert.handover", "soar.alert.uuid"]
    )
    out: dict[str, list[str]] = {}
    for hit in response["hits"]["hits"]:
        alert = hit["_source"]["soar"]["alert"]
        out.setdefault(alert["handover"]["status"], []).append(alert["uuid"])
    return out


def _routing(queue: str) -> RoutingTable:
    return RoutingTable(routes=[Route(workflow="StubPlaybook", task_queue=queue, levels=["medium"])])


async def test_alerts_start_their_playbooks_as_they_are_written(
    workflow_env: WorkflowEnvironment, search: SearchClient, tmp_path: Path
) -> None:
    await _events(search, {1: 4, 2: 3})
    await ensure_indices(search, "default")
    queue = f"playbooks-{uuid.uuid4().hex[:8]}"
    async with Worker(workflow_env.client, task_queue=queue, workflows=[StubPlaybook]):
        prompt = PromptHandOver(search, workflow_env.client, _routing(queue))
        results = await search_window(search, _spec(tmp_path, {1: 4, 2: 3}, page_size=2), prompt)
        assert [r.created for r in results] == [4, 3]
        assert prompt.handed == HandOverOutput(started=7)
        statuses = await _by_status(search)  # recorded before the step returns, and searchable
        assert set(statuses) == {"started"}
        assert len(statuses["started"]) == 7
        # The sweep's hand-over after the step finds nothing left to start.
        assert (
            await hand_over(search, workflow_env.client, _routing(queue), "default", "okta")
            == HandOverOutput()
        )
        for alert in statuses["started"]:
            handle = workflow_env.client.get_workflow_handle(handover_workflow_id(alert))
            assert await handle.result() == alert
            assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_alerts_it_cannot_start_stay_pending_for_the_hand_over(
    workflow_env: WorkflowEnvironment, search: SearchClient, tmp_path: Path
) -> None:
    await _events(search, {3: 5})  # alerts of its own: workflow ids outlive a test
    await ensure_indices(search, "default")
    queue = f"playbooks-{uuid.uuid4().hex[:8]}"
    # Temporal unreachable (nothing listens on port 9): every start fails, and the step must not fail with it.
    nowhere = await Client.connect(
        "127.0.0.1:9", lazy=True, data_converter=workflow_env.client.data_converter
    )
    prompt = PromptHandOver(search, nowhere, _routing(queue))
    [result] = await search_window(search, _spec(tmp_path, {3: 5}, page_size=10), prompt)
    assert result.created == 5
    assert prompt.handed == HandOverOutput()
    assert {k: len(v) for k, v in (await _by_status(search)).items()} == {"pending": 5}
    async with Worker(workflow_env.client, task_queue=queue, workflows=[StubPlaybook]):
        out = await hand_over(search, workflow_env.client, _routing(queue), "default", "okta")
    assert out == HandOverOutput(started=5)
    assert {k: len(v) for k, v in (await _by_status(search)).items()} == {"started": 5}
