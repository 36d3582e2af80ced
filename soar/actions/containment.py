"""Containment activities: apply and revert one action through the connectors, and the identity look-up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from soar.connectors.base import Attempt
from soar.connectors.responders import Responders
from soar.errors import ConnectorError, ConnectorUnavailable, SoarError
from soar.response.containment import ContainmentProposal, ContainmentRequest
from soar.response.models import ActionResult, ActionSpec, Entity, IdentityContext, containment_workflow_id

CONNECTOR_ERROR = "ConnectorError"
CONTAINMENT = "Containment"  # the playbook's workflow type


class RevertInput(BaseModel):
    """What reverting an action needs: the action and the result applying it gave (its ``undo``)."""

    spec: ActionSpec
    applied: ActionResult


def application_error(exc: SoarError) -> ApplicationError:
    """A soar error as Temporal sees it; workflows branch on ``type``, never on the message.

    Every connector failure has type ``ConnectorError``: a refusal (4xx, not found, wrong target) is not
    retried, an unavailable system (network, timeout, 429, 5xx) is, by the activity's retry policy.
    """
    if isinstance(exc, ConnectorError):
        return ApplicationError(
            str(exc), type=CONNECTOR_ERROR, non_retryable=not isinstance(exc, ConnectorUnavailable)
        )
    return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True)


def _attempt(spec: ActionSpec, temporal: Client | None) -> Attempt:
    """The link between retries: what an earlier attempt recorded just before it changed anything."""
    previous = None
    for detail in activity.info().heartbeat_details:
        if (
            isinstance(detail, dict)
            and detail.get("key") == spec.key
            and isinstance(detail.get("undo"), dict)
        ):
            previous = detail["undo"]

    async def record(undo: dict[str, Any]) -> None:
        detail = {"key": spec.key, "undo": undo}
        activity.heartbeat(detail)  # the worker's own heartbeats repeat it from now on
        if temporal is None:
            return
        # A heartbeat leaves the worker later (throttled, in the background): one killed right after the change
        # would take the undo with it. Store it now; the change is sent once Temporal has it.
        handle = temporal.get_async_activity_handle(task_token=activity.info().task_token)
        try:
            await handle.heartbeat(detail)
        except RPCError as exc:
            raise ApplicationError(
                f"{spec.kind} {spec.target.value}: cannot record the undo before the change: {exc.status.name}",
                type="EngineUnavailable",
            ) from None

    return Attempt(previous=previous, record=record)


class ContainmentActivities:
    """Activities that act on identity providers and the mesh, holding the connectors.

    Args:
        responders: The connectors, built once per worker from the connector settings.
        temporal: The client the undo of a change is stored with before the change is sent (a retry after a
            crash needs it); None only heartbeats it, which a worker killed right after the change may lose.
    """

    def __init__(self, responders: Responders, temporal: Client | None = None) -> None:
        self.responders = responders
        self.temporal = temporal

    @activity.defn(name="containment.apply")
    async def apply_action(self, spec: ActionSpec) -> ActionResult:
        """Apply one action; a retry finds it applied and changes nothing (``ALREADY_APPLIED``)."""
        try:
            return await self.responders.apply(spec, _attempt(spec, self.temporal))
        except SoarError as exc:
            raise application_error(exc) from exc

    @activity.defn(name="containment.propose")
    async def propose(self, proposal: ContainmentProposal) -> list[str]:
        """Start each action's containment workflow unless it was ever started; its workflow ids.

        The id is derived from incident and action, so another alert of the incident proposing the same
        action finds it started and it runs once.
        """
        if self.temporal is None:
            raise ApplicationError("containment.propose needs a Temporal client", type="ConfigError")
        temporal, queue = self.temporal, activity.info().task_queue

        async def start(request: ContainmentRequest) -> str:
            workflow_id = containment_workflow_id(request.spec.incident_id, request.spec.id)
            with contextlib.suppress(WorkflowAlreadyStartedError):
                await temporal.start_workflow(
                    CONTAINMENT,
                    request,
                    id=workflow_id,
                    task_queue=queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                )
            return workflow_id

        return list(await asyncio.gather(*(start(r) for r in proposal.requests)))

    @activity.defn(name="containment.revert")
    async def revert_action(self, revert: RevertInput) -> ActionResult:
        """Revert one applied action to the state before soar acted (``ALREADY_REVERTED`` on a retry)."""
        try:
            return await self.responders.revert(revert.spec, revert.applied)
        except SoarError as exc:
            raise application_error(exc) from exc

    @activity.defn(name="response.identity")
    async def identity(self, entity: Entity) -> IdentityContext | None:
        """What the user's identity provider knows about them (None: not a user, no IdP, unknown user)."""
        try:
            return await self.responders.identity(entity)
        except SoarError as exc:
            raise application_error(exc) from exc

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for a worker."""
        return [self.apply_action, self.revert_action, self.identity, self.propose]
