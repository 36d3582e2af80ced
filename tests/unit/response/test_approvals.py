"""Four-eyes: whose approval counts."""

from __future__ import annotations

from datetime import UTC, datetime

from soar.response.approvals import approvals_required, is_system, refusal
from soar.response.models import ApprovalDecision, Decision

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _d(by: str, decision: Decision = Decision.APPROVE) -> ApprovalDecision:
    return ApprovalDecision(decision=decision, by=by, at=NOW)


def test_requester_cannot_approve_their_own_request() -> None:
    assert refusal("alice", _d("Alice"), []) is not None
    assert refusal("alice", _d("bob"), []) is None


def test_requester_may_withdraw_by_rejecting() -> None:
    assert refusal("alice", _d("alice", Decision.REJECT), []) is None


def test_one_person_counts_once_and_soar_never_decides() -> None:
    assert refusal("soar:triage", _d("bob"), ["BOB"]) == "already approved by this person"
    assert refusal("alice", _d("soar:triage"), []) is not None
    assert is_system("soar")
    assert is_system("soar:containment")
    assert not is_system("soarin")


def test_playbook_proposals_need_more_eyes() -> None:
    assert approvals_required("soar:triage", system=2, person=1) == 2
    assert approvals_required("alice", system=2, person=1) == 1
