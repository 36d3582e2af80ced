"""Four-eyes rules: whose decision on a containment request counts."""

from __future__ import annotations

from soar.response.models import ApprovalDecision, Decision

SYSTEM_PREFIX = "soar"


def is_system(identity: str) -> bool:
    """Whether an identity is soar itself (a playbook), which never approves anything."""
    return identity == SYSTEM_PREFIX or identity.startswith(f"{SYSTEM_PREFIX}:")


def approvals_required(requested_by: str, *, system: int, person: int) -> int:
    """Approvals a high-impact request needs: a playbook's proposal needs more eyes than a person's request."""
    return system if is_system(requested_by) else person


def refusal(requested_by: str, decision: ApprovalDecision, approvals: list[str]) -> str | None:
    """Why a decision does not count (None: it counts).

    The requester may withdraw (reject) their own request but never approve it; soar never decides; a
    person approves once.
    """
    who = decision.by.strip()
    if is_system(who):
        return "a system identity cannot decide on containment"
    if decision.decision == Decision.APPROVE:
        if who.casefold() == requested_by.casefold():
            return "four-eyes: the requester cannot approve their own request"
        if who.casefold() in {a.casefold() for a in approvals}:
            return "already approved by this person"
    return None
