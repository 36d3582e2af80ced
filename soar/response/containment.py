"""What the containment playbook is started with and what it ends in."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from soar.response.models import ActionResult, ActionSpec, ActionState


class ContainmentRequest(BaseModel):
    """One action to take, with its approval policy.

    Attributes:
        spec: The action (its key makes execution idempotent).
        approvals_required: Distinct people, none of them the requester, who must approve; 0 runs at once.
        escalate_after: Without a decision by then, the request is escalated.
        expire_after: Without a decision by then, the request expires and nothing is done.
        contain_for: How long the action stays applied before it is reverted; None keeps it until reverted.
    """

    spec: ActionSpec
    approvals_required: int
    escalate_after: timedelta
    expire_after: timedelta
    contain_for: timedelta | None = None


class ContainmentProposal(BaseModel):
    """Input of ``containment.propose``: the actions a triage proposes, each started once per incident."""

    requests: list[ContainmentRequest]


class ContainmentResult(BaseModel):
    """How the action ended, who approved or rejected it, and what the connectors did."""

    action_id: str
    state: ActionState
    approvals: list[str]
    approvals_required: int = 0
    rejected_by: str | None = None
    applied: ActionResult | None = None
    reverted: ActionResult | None = None
    refused: list[
        str
    ] = []  # decisions not counted, with the reason (self-approval, a system identity, twice)
