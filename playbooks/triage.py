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

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from playbooks.containment import ContainmentWorkflow
    from soar.actions.triage import TriageActivities
    from soar.audit.trail import AuditTrail
    from soar.detect.routing import AlertHandOver
    from soar.response.approvals import approvals_required
    from soar.response.containment import ContainmentRequest
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


@workflow.defn(name="Triage")
class TriageWorkflow:
    """Enrich, prioritise, group into an incident and propose containment for one alert."""

    @workflow.run
    async def run(self, alert: AlertHandOver) -> TriageResult:
        """Triage one alert handed over by the detection engine."""
        trail = AuditTrail.for_workflow()
        found = await workflow.execute_activity_method(
            TriageActivities.enrich, alert, start_to_close_timeout=_CALL, retry_policy=_RETRY
        )
        priority = triage_priority(
            found.risk_score,
            service=found.service,
            identities=found.identities,
            related_events=found.related_events,
        )
        await trail.record(
            ACTOR, "alert.triaged", alert.alert_id, input=alert, result=_triaged(found, priority)
        )
        attached: IncidentAttachment = await workflow.execute_activity(
            "incident.attach",
            _incident_alert(found, priority),
            result_type=IncidentAttachment,
            start_to_close_timeout=_CALL,
            retry_policy=_RETRY,
        )
        result = TriageResult(
            alert_id=alert.alert_id,
            priority=priority.value,
            reasons=priority.reasons,
            incident_id=attached.incident_id,
            incident_created=attached.created,
        )
        for candidate in found.candidates:
            if priority.value <= candidate.max_priority:
                result.proposed.append(await self._propose(found, attached.incident_id, candidate))
        await trail.record(
            ACTOR,
            "alert.grouped",
            attached.incident_id,
            result={"alert": alert.alert_id, "created": attached.created, "proposed": result.proposed},
        )
        return result

    async def _propose(self, found: Enrichment, incident_id: str, candidate: Candidate) -> str:
        """Start the containment of one action for the incident, unless it was ever started."""
        spec = ActionSpec(
            incident_id=incident_id,
            kind=candidate.action,
            target=candidate.target,
            key=idempotency_key(incident_id, candidate.action, candidate.target),
            reason=f"{found.rule_title} (alert {found.alert_id[:12]}) on {candidate.target.value}",
            requested_by=ACTOR,
        )
        policy = found.approvals
        request = ContainmentRequest(
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
        workflow_id = containment_workflow_id(incident_id, spec.id)
        # Another alert of this incident may have proposed it already: then it runs once, over there.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await workflow.start_child_workflow(
                ContainmentWorkflow.run,
                request,
                id=workflow_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        return workflow_id


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
