"""Hand-over of new alerts to their playbooks: an outbox in the alerts index, started at most once.

Every alert is written with ``soar.alert.handover.status: pending``. The hand-over reads the group's
pending alerts, starts each routed playbook with workflow id ``alert-<alert id>`` and id-reuse policy
``REJECT_DUPLICATE`` (already started counts as handed over), then records the outcome and workflow id in
the alert. A crash anywhere in between leaves the alert pending, and the next sweep finishes the job.

The step that writes alerts hands them over as it writes them (:class:`PromptHandOver`): each bulk of new
alerts starts its playbooks while the step's other rules are still searching, without reading the alerts
back. What it could not start stays pending for :func:`hand_over`, which the sweep runs after each step.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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

log = logging.getLogger(__name__)

_PAGE = 500
# Starts in flight at once: each is one round trip to Temporal, so a burst of alerts starts in parallel.
CONCURRENCY = 64


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


Outcome = tuple[str, HandOverStatus, str | None]  # alert id, status, workflow id
Dispatched = tuple[str, HandOverStatus, bool | None]  # alert id, status, started now (None: unrouted)


async def _record(search: SearchClient, index: str, outcomes: list[Outcome], *, refresh: bool = True) -> None:
    operations: list[dict[str, Any]] = []
    for uid, status, workflow_id in outcomes:
        alert = {"handover": {"status": status}, "workflow_id": workflow_id}
        operations += [{"update": {"_index": index, "_id": uid}}, {"doc": {"soar": {"alert": alert}}}]
    try:
        response = await search.es.bulk(operations=operations, refresh="wait_for" if refresh else None)
    except ApiError as exc:
        raise search_error(exc, "recording the hand-over of alerts") from None
    if response.get("errors"):
        raise SearchError(f"recording the hand-over of alerts: {str(response['items'])[:300]}")


async def _dispatch(
    temporal: Client, routing: RoutingTable, index: str, alert: dict[str, Any], gate: asyncio.Semaphore
) -> Dispatched:
    """Start one alert's playbook."""
    route = routing.route(_facts(alert))
    if route is None:
        return alert["uuid"], "unrouted", None
    async with gate:
        started = await start_once(temporal, route, _handover(index, alert))
    return alert["uuid"], "started", started


def _count(done: list[Dispatched | BaseException], out: HandOverOutput) -> list[Outcome]:
    """Add the dispatches that succeeded to ``out``; their outcomes, to record in the alerts."""
    outcomes: list[Outcome] = []
    for item in done:
        if isinstance(item, BaseException):
            continue
        uid, status, started = item
        out.unrouted += started is None
        out.started += started is True
        out.already_started += started is False
        outcomes.append((uid, status, handover_workflow_id(uid) if status == "started" else None))
    return outcomes


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
        outcomes = _count(done, out)
        if outcomes:
            await _record(search, index, outcomes)
        failed = next((item for item in done if isinstance(item, BaseException)), None)
        if failed is not None:
            raise failed
    return out


class PromptHandOver:
    """Starts the playbooks of alerts as they are created, ``concurrency`` at a time, and records them.

    Nothing here fails the step that writes the alerts: an alert whose start failed stays pending, and the
    sweep's next :func:`hand_over` starts it (or raises what keeps it from starting).
    """

    def __init__(
        self, search: SearchClient, temporal: Client, routing: RoutingTable, *, concurrency: int = CONCURRENCY
    ) -> None:
        self.search = search
        self.temporal = temporal
        self.routing = routing
        self._gate = asyncio.Semaphore(concurrency)
        self.handed = HandOverOutput()  # every start :meth:`finish` waited for
        self._started: dict[str, list[asyncio.Task[Dispatched]]] = {}

    def offer(self, index: str, documents: list[dict[str, Any]]) -> None:
        """Start the playbooks of these newly created alert documents, in the background."""
        tasks = self._started.setdefault(index, [])
        for doc in documents:
            alert = doc["soar"]["alert"]
            tasks.append(
                asyncio.create_task(_dispatch(self.temporal, self.routing, index, alert, self._gate))
            )

    async def finish(self) -> None:
        """Wait for every start offered so far and record the outcomes in the alerts (not refreshed)."""
        out = self.handed
        started, self._started = self._started, {}
        for index, tasks in started.items():
            done = await asyncio.gather(*tasks, return_exceptions=True)
            failed = [item for item in done if isinstance(item, BaseException)]
            if failed:
                log.warning("%d alerts left pending for the next hand-over: %s", len(failed), failed[0])
            outcomes = _count(done, out)
            if outcomes:
                try:
                    await _record(self.search, index, outcomes, refresh=False)
                except SearchError as exc:  # started, not recorded: the next hand-over finds them started
                    log.warning("%s; the next hand-over records them", exc)


_OFFER_TO: ContextVar[PromptHandOver | None] = ContextVar("soar_prompt_hand_over", default=None)


@contextmanager
def handing_over(prompt: PromptHandOver | None) -> Iterator[None]:
    """Within the block, every alert :func:`offer_created` is given goes to ``prompt`` (None: to nobody).

    The writers of alerts (plain, suppressed, aggregate) need not know about playbooks: the activity that
    runs them decides whether their new alerts are handed over at once.
    """
    token = _OFFER_TO.set(prompt)
    try:
        yield
    finally:
        _OFFER_TO.reset(token)


def offering() -> bool:
    """True within a block whose new alerts go to a prompt hand-over: only then need writers keep them."""
    return _OFFER_TO.get() is not None


def offer_created(index: str, documents: list[dict[str, Any]]) -> None:
    """Offer newly created alert documents to the block's :class:`PromptHandOver`, if any."""
    prompt = _OFFER_TO.get()
    if prompt is not None and documents:
        prompt.offer(index, documents)
