"""Containment runbook: one action against one target.

1. Record the request and show it on the incident.
2. High impact: ask for approval; count only people other than the requester, each once; escalate when
   nobody decides in time, and let the request expire (nothing done) when still nobody does.
3. Apply the action (idempotent: a retry after a crash finds it applied and does nothing).
4. Keep it for the containment period, or until someone asks to revert; then revert it (compensation).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from playbooks.calls import call

with workflow.unsafe.imports_passed_through():
    from soar.actions.containment import RevertInput
    from soar.audit.trail import AuditTrail
    from soar.response.approvals import refusal
    from soar.response.containment import ContainmentRequest, ContainmentResult
    from soar.response.models import (
        SIGNAL_ACTION,
        SIGNAL_DECIDE,
        SIGNAL_REVERT,
        ActionResult,
        ActionSpec,
        ActionState,
        ActionStatus,
        ApprovalDecision,
        Decision,
        Notification,
        NotificationKind,
        incident_workflow_id,
    )

ACTOR = "soar:containment"
# Whether a failure is worth retrying is the activity's call (``non_retryable``): a refusal is not, an
# unavailable system or a lost answer (5xx, timeout) is. Naming ConnectorError here would stop those retries
# too, and an action whose answer was lost would fail with the change made and never reverted.
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["InputError"],
)
_CALL = timedelta(minutes=2)
_GIVE_UP = timedelta(hours=1)  # a connector still failing after this fails the action (and says so)
LOCAL_CALLS = "containment-local-calls"


@workflow.defn(name="Containment")
class ContainmentWorkflow:
    """Apply one containment action with four-eyes approval, and revert it when its time is up."""

    def __init__(self) -> None:
        self._decisions: list[ApprovalDecision] = []
        self._seen = 0  # decisions taken into account
        self._revert_by: str | None = None
        self._result: ContainmentResult | None = None

    @workflow.signal(name=SIGNAL_DECIDE)
    def decide(self, decision: ApprovalDecision) -> None:
        """A person approves or rejects (validated in the run, so every decision is audited)."""
        self._decisions.append(decision)

    @workflow.signal(name=SIGNAL_REVERT)
    def revert(self, by: str) -> None:
        """Revert the applied action now."""
        self._revert_by = self._revert_by or by

    @workflow.query(name="state")
    def state(self) -> ContainmentResult | None:
        """Where the action stands."""
        return self._result

    @workflow.run
    async def run(self, request: ContainmentRequest) -> ContainmentResult:
        """Run the containment runbook for one action."""
        spec = request.spec
        self._request = request
        # Histories from before called notify as an activity and read the audit head first.
        self._local = workflow.patched(LOCAL_CALLS)
        self._trail = AuditTrail.for_workflow(new_stream=True, batched=self._local)
        self._result = ContainmentResult(
            action_id=spec.id,
            state=ActionState.PROPOSED,
            approvals=[],
            approvals_required=request.approvals_required,
        )
        await self._trail.record(
            spec.requested_by, "action.proposed", spec.id, input=spec, result=_summary(spec), defer=True
        )
        await self._show()
        if request.approvals_required and not await self._approved(request):
            return self._result
        applied = await self._apply(spec)
        if applied is None:
            return self._result
        await self._hold(request)
        await self._undo(spec, applied)
        return self._result

    async def _approved(self, request: ContainmentRequest) -> bool:
        spec, result = request.spec, self._require_result()
        await self._notify(request, NotificationKind.APPROVAL_REQUEST, "approval needed")
        await self._trail.record(
            ACTOR, "approval.requested", spec.id, result={"required": request.approvals_required}
        )
        started, escalated = workflow.now(), False
        while True:
            while self._seen < len(self._decisions):
                self._seen += 1
                await self._take(request, self._decisions[self._seen - 1])
            if result.state == ActionState.REJECTED:
                await self._show()
                return False
            if len(result.approvals) >= request.approvals_required:
                result.state = ActionState.APPROVED
                await self._show()
                return True
            limit = request.expire_after if escalated else request.escalate_after
            remaining = limit - (workflow.now() - started)
            if remaining <= timedelta(0):
                if escalated:
                    result.state = ActionState.EXPIRED
                    await self._trail.record(
                        ACTOR, "approval.expired", spec.id, result={"approvals": result.approvals}
                    )
                    await self._show()
                    return False
                escalated = True
                await self._notify(request, NotificationKind.ESCALATION, "approval overdue")
                await self._trail.record(
                    ACTOR, "approval.escalated", spec.id, result={"approvals": result.approvals}
                )
                continue
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: len(self._decisions) > self._seen, timeout=remaining)

    async def _take(self, request: ContainmentRequest, decision: ApprovalDecision) -> None:
        spec, result = request.spec, self._require_result()
        if result.state != ActionState.PROPOSED:
            return
        why = refusal(spec.requested_by, decision, result.approvals)
        if why is not None:
            result.refused.append(f"{decision.by}: {why}")
            await self._trail.record(decision.by, "approval.refused", spec.id, result={"reason": why})
            return
        if decision.decision == Decision.REJECT:
            result.state, result.rejected_by = ActionState.REJECTED, decision.by
            await self._trail.record(
                decision.by, "approval.rejected", spec.id, result={"comment": decision.comment}
            )
            return
        result.approvals.append(decision.by)
        await self._trail.record(
            decision.by,
            "approval.granted",
            spec.id,
            result={"comment": decision.comment, "count": len(result.approvals)},
        )

    async def _apply(self, spec: ActionSpec) -> ActionResult | None:
        result = self._require_result()
        try:
            applied: ActionResult = await workflow.execute_activity(
                "containment.apply",
                spec,
                result_type=ActionResult,
                start_to_close_timeout=_CALL,
                schedule_to_close_timeout=_GIVE_UP,
                retry_policy=_RETRY,
            )
        except ActivityError as exc:
            result.state = ActionState.FAILED
            cause = str(exc.cause) if exc.cause else str(exc)
            await self._trail.record(
                ACTOR, "action.failed", spec.id, input=spec, result={"error": cause[:300]}
            )
            await self._show(cause[:300])
            return None
        result.state, result.applied = ActionState.APPLIED, applied
        await self._trail.record(ACTOR, "action.applied", spec.id, input=spec, result=_outcome(applied))
        await self._show(applied.detail)
        return applied

    async def _hold(self, request: ContainmentRequest) -> None:
        try:
            await workflow.wait_condition(lambda: self._revert_by is not None, timeout=request.contain_for)
        except TimeoutError:
            self._revert_by = ACTOR  # the containment period is over

    async def _undo(self, spec: ActionSpec, applied: ActionResult) -> None:
        result = self._require_result()
        reverted: ActionResult = await workflow.execute_activity(
            "containment.revert",
            RevertInput(spec=spec, applied=applied),
            result_type=ActionResult,
            start_to_close_timeout=_CALL,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=5)
            ),
        )
        result.state, result.reverted = ActionState.REVERTED, reverted
        await self._trail.record(
            self._revert_by or ACTOR, "action.reverted", spec.id, input=spec, result=_outcome(reverted)
        )
        await self._show(reverted.detail)

    async def _notify(self, request: ContainmentRequest, kind: NotificationKind, what: str) -> None:
        spec = request.spec
        note = Notification(
            key=f"{spec.key}-{kind}",
            kind=kind,
            incident_id=spec.incident_id,
            subject=f"{spec.incident_id}: {spec.kind} {spec.target.value}: {what}",
            text=f"{spec.reason} Requested by {spec.requested_by}; needs {request.approvals_required} approval(s). "
            f"Approve: soar incidents approve {spec.incident_id} {spec.id} --by <you>",
            at=workflow.now(),
        )
        await call(
            "response.notify",
            note,
            type(None),
            local=self._local,
            attempt=_CALL,
            retry=_RETRY,
            give_up=_GIVE_UP,
        )

    async def _show(self, detail: str = "") -> None:
        """Show the action's state on its incident; an incident that is gone does not stop containment."""
        spec = self._request.spec
        result = self._require_result()
        done = result.reverted or result.applied
        status = ActionStatus(
            action_id=spec.id,
            kind=spec.kind,
            target=spec.target,
            state=result.state,
            requested_by=spec.requested_by,
            high_impact=self._request.approvals_required > 0,
            approvals=list(result.approvals),
            rejected_by=result.rejected_by,
            outcome=done.outcome if done else None,
            detail=detail,
            workflow_id=workflow.info().workflow_id,
            updated_at=workflow.now(),
        )
        handle = workflow.get_external_workflow_handle(incident_workflow_id(spec.incident_id))
        try:
            await handle.signal(SIGNAL_ACTION, status)
        except Exception:  # noqa: BLE001 - a closed or missing incident must not block containment
            workflow.logger.info("incident %s did not take the action status", spec.incident_id)

    def _require_result(self) -> ContainmentResult:
        assert self._result is not None
        return self._result


def _summary(spec: ActionSpec) -> dict[str, str]:
    return {"kind": spec.kind, "target": spec.target.key, "incident": spec.incident_id, "key": spec.key}


def _outcome(result: ActionResult) -> dict[str, object]:
    return {"outcome": result.outcome, "system": result.system, "requests": result.requests[:10]}
