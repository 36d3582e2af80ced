"""Triage runbook: one alert.

1. Enrich: the alert's entities, who they are at the identity provider, the service at stake, related events.
2. Prioritise: the risk score, raised for a critical service, a privileged identity or a burst of activity.
3. Group: join the open incident sharing an entity, or open a new one.
4. Decide: propose the containment the response file names for an alert of this priority, each action once
   per incident (its workflow id is derived from incident and action), with four-eyes approval where it hurts.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from playbooks.calls import call

with workflow.unsafe.imports_passed_through():
    from playbooks.containment import ContainmentWorkflow
    from soar.actions.triage import TriageActivities
    from soar.audit.trail import AuditTrail
    from soar.detect.routing import AlertHandOver
    from soar.response.approvals import approvals_required
    from soar.response.containment import ContainmentProposal, ContainmentRequest
    from soar.response.models import (
        HIGH_IMPACT,
        ActionSpec,
        IncidentAlert,
        IncidentAttachment,
        containment_workflow_id,
        idempotency_key,
    )
    from soar.response.priority import Priority, triage_priority
    from soar.response.triage import Candidate, Enrichment, TriageResult

ACTOR = "soar:triage"
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
_CALL = timedelta(seconds=60)
LOCAL_CALLS = "triage-local-activities"
LOCAL_AUDIT = "triage-local-audit"
_Result = TypeVar("_Result")


@workflow.defn(name="Triage")
class TriageWorkflow:
    """Enrich, prioritise, group into an incident and propose containment for one alert."""

    @workflow.run
    async def run(self, alert: AlertHandOver) -> TriageResult:
        """Triage one alert handed over by the detection engine."""
        # Histories from before ran each call as an activity and the proposals as child workflows.
        self._local = workflow.patched(LOCAL_CALLS)
        # Histories from before wrote the audit records by an activity, in a workflow task of their own.
        local_audit = self._local and workflow.patched(LOCAL_AUDIT)
        trail = AuditTrail.for_workflow(new_stream=True, batched=self._local, local=local_audit)
        found = await self._call(TriageActivities.enrich, alert, Enrichment)
        priority = triage_priority(
            found.risk_score,
            service=found.service,
            identities=found.identities,
            related_events=found.related_events,
        )
        await trail.record(
            ACTOR, "alert.triaged", alert.alert_id, input=alert, result=_triaged(found, priority), defer=True
        )
        attached = await self._call("incident.attach", _incident_alert(found, priority), IncidentAttachment)
        result = TriageResult(
            alert_id=alert.alert_id,
            priority=priority.value,
            reasons=priority.reasons,
            incident_id=attached.incident_id,
            incident_created=attached.created,
        )
        requests = [
            _request(found, attached.incident_id, candidate)
            for candidate in found.candidates
            if priority.value <= candidate.max_priority
        ]
        result.proposed = await self._propose(requests)
        await trail.record(
            ACTOR,
            "alert.grouped",
            attached.incident_id,
            result={"alert": alert.alert_id, "created": attached.created, "proposed": result.proposed},
        )
        return result

    async def _call(self, activity: Any, arg: Any, result_type: type[_Result]) -> _Result:
        return await call(activity, arg, result_type, local=self._local, attempt=_CALL, retry=_RETRY)

    async def _propose(self, requests: list[ContainmentRequest]) -> list[str]:
        """Start each action's containment for the incident unless it was ever started; their workflow ids.

        Another alert of the incident may have proposed the action already: then it runs once, over there.
        """
        if not requests:
            return []
        if self._local:
            return await self._call("containment.propose", ContainmentProposal(requests=requests), list[str])
        for request in requests:
            with contextlib.suppress(WorkflowAlreadyStartedError):
                await workflow.start_child_workflow(
                    ContainmentWorkflow.run,
                    request,
                    id=_workflow_id(request),
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                )
        return [_workflow_id(r) for r in requests]


def _request(found: Enrichment, incident_id: str, candidate: Candidate) -> ContainmentRequest:
    """The containment of one proposed action, with the approvals its impact needs."""
    spec = ActionSpec(
        incident_id=incident_id,
        kind=candidate.action,
        target=candidate.target,
        key=idempotency_key(incident_id, candidate.action, candidate.target),
        reason=f"{found.rule_title} (alert {found.alert_id[:12]}) on {candidate.target.value}",
        requested_by=ACTOR,
    )
    policy = found.approvals
    return ContainmentRequest(
        spec=spec,
        approvals_required=approvals_required(
            spec.requested_by, system=policy.system_approvals, person=policy.person_approvals
        )
        if spec.kind in HIGH_IMPACT
        else 0,
        escalate_after=policy.escalate_after,
        expire_after=policy.expire_after,
        contain_for=policy.contain_for,
    )


def _workflow_id(request: ContainmentRequest) -> str:
    return containment_workflow_id(request.spec.incident_id, request.spec.id)


def _incident_alert(found: Enrichment, priority: Priority) -> IncidentAlert:
    return IncidentAlert(
        alert_id=found.alert_id,
        alert_index=found.alert_index,
        rule_id=found.rule_id,
        rule_title=found.rule_title,
        severity=found.severity,
        risk_score=found.risk_score,
        priority=priority.value,
        at=found.at,
        entities=found.entities,
        tags=found.tags,
        dataset=found.dataset,
        service=found.service.name if found.service else None,
        source_index=found.source_index,
        source_id=found.source_id,
    )


def _triaged(found: Enrichment, priority: Priority) -> dict[str, object]:
    return {
        "priority": priority.value,
        "entities": [e.key for e in found.entities],
        "service": found.service.name if found.service else None,
        "identities": [i.username for i in found.identities],
        "related_events": found.related_events,
        "notes": found.notes,
    }
