"""Hand-over of new alerts to their playbooks: an outbox in the alerts index, started at most once.

Every alert is written with ``soar.alert.handover.status: pending``. The hand-over reads the group's
pending alerts, starts each routed playbook with workflow id ``alert-<alert id>`` and id-reuse policy
``REJECT_DUPLICATE`` (already started counts as handed over), then records the outcome and workflow id in
the alert. A crash anywhere in between leaves the alert pending, and the next sweep finishes the job.
"""

from __future__ import annotations

import asyncio
from typing import Any

from elasticsearch import ApiError
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from soar.detect.alerts import HandOverStatus, alerts_index, handover_workflow_id
from soar.detect.models import HandOverOutput
from soar.detect.routing import AlertFacts, AlertHandOver, Route, RoutingTable
from soar.engines.search import SearchClient, search_error
from soar.errors import SearchError

_PAGE = 500
# Starts in flight at once: each is one round trip to Temporal, so a burst of alerts starts in parallel.
CONCURRENCY = 32


def _facts(alert: dict[str, Any]) -> AlertFacts:
    rule = alert["rule"]
    return AlertFacts(
        rule_id=rule["uuid"],
        level=alert.get("severity") or "medium",
        source=str(rule.get("group") or ""),
        tags=list(rule.get("tags") or []),
    )


def _handover(index: str, alert: dict[str, Any]) -> AlertHandOver:
    return AlertHandOver(
        alert_id=alert["uuid"],
        alert_index=index,
        rule_id=alert["rule"]["uuid"],
        rule_title=alert["rule"]["name"],
        severity=alert.get("severity") or "medium",
        source_index=alert["source"]["index"],
        source_id=alert["source"]["id"],
        original_time=alert.get("original_time"),
    )


async def start_once(client: Client, route: Route, handover: AlertHandOver) -> bool:
    """Start the routed playbook unless an alert's workflow was ever started; True if started now."""
    try:
        await client.start_workflow(
            route.workflow,
            handover,
            id=handover_workflow_id(handover.alert_id),
            task_queue=route.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def _pending(search: SearchClient, index: str, group_id: str) -> list[dict[str, Any]]:
    query = {
        "bool": {
            "filter": [
                {"term": {"soar.alert.handover.status": "pending"}},
                {"term": {"soar.alert.rule.group": group_id}},
            ]
        }
    }
    try:
        response = await search.es.search(
            index=index, query=query, size=_PAGE, source_includes=["soar.alert"], sort=[{"@timestamp": "asc"}]
        )
    except ApiError as exc:
        raise search_error(exc, f"reading pending alerts of {group_id}") from None
    return [hit["_source"]["soar"]["alert"] for hit in response["hits"]["hits"]]


async def _record(
    search: SearchClient, index: str, outcomes: list[tuple[str, HandOverStatus, str | None]]
) -> None:
    operations: list[dict[str, Any]] = []
    for uid, status, workflow_id in outcomes:
        alert = {"handover": {"status": status}, "workflow_id": workflow_id}
        operations += [{"update": {"_index": index, "_id": uid}}, {"doc": {"soar": {"alert": alert}}}]
    try:
        response = await search.es.bulk(operations=operations, refresh="wait_for")
    except ApiError as exc:
        raise search_error(exc, "recording the hand-over of alerts") from None
    if response.get("errors"):
        raise SearchError(f"recording the hand-over of alerts: {str(response['items'])[:300]}")


async def _dispatch(
    temporal: Client, routing: RoutingTable, index: str, alert: dict[str, Any], gate: asyncio.Semaphore
) -> tuple[str, HandOverStatus, bool | None]:
    """Start one alert's playbook: (alert id, status, started now; None when unrouted)."""
    route = routing.route(_facts(alert))
    if route is None:
        return alert["uuid"], "unrouted", None
    async with gate:
        started = await start_once(temporal, route, _handover(index, alert))
    return alert["uuid"], "started", started


async def hand_over(
    search: SearchClient,
    temporal: Client,
    routing: RoutingTable,
    namespace: str,
    group_id: str,
    *,
    concurrency: int = CONCURRENCY,
) -> HandOverOutput:
    """Hand every pending alert of the group to its playbook (or mark it unrouted).

    Playbooks are started ``concurrency`` at a time. When a start fails, the alerts handed over so far
    are recorded before the error is raised; the failed one stays pending for the next hand-over.
    """
    index = alerts_index(namespace)
    out = HandOverOutput()
    gate = asyncio.Semaphore(concurrency)
    while alerts := await _pending(search, index, group_id):
        done = await asyncio.gather(
            *(_dispatch(temporal, routing, index, a, gate) for a in alerts), return_exceptions=True
        )
        outcomes: list[tuple[str, HandOverStatus, str | None]] = []
        for item in done:
            if isinstance(item, BaseException):
                continue
            uid, status, started = item
            out.unrouted += started is None
            out.started += started is True
            out.already_started += started is False
            outcomes.append((uid, status, handover_workflow_id(uid) if status == "started" else None))
        if outcomes:
            await _record(search, index, outcomes)
        failed = next((item for item in done if isinstance(item, BaseException)), None)
        if failed is not None:
            raise failed
    return out
