"""What crosses the response boundaries: entities, containment actions, approvals and their outcomes.

Playbooks (``playbooks/``), their activities (``soar.actions``), the connectors (``soar.connectors``) and the
CLI all speak these models, so one action means the same thing from the alert to the audit record.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class EntityKind(StrEnum):
    """What an entity is; decides which actions can target it."""

    USER = "user"  # a person's account at an identity provider
    CLIENT = "client"  # an OAuth client, e.g. a PSD2 third-party provider (TPP)
    PRINCIPAL = "principal"  # a workload identity (SPIFFE id) in the mesh
    WORKLOAD = "workload"  # a Kubernetes pod: ``<namespace>/<pod>``
    ADDRESS = "address"  # a source IP address
    SERVICE = "service"  # a business service in the catalogue


class Entity(BaseModel):
    """One thing an alert is about, as found in its event.

    Attributes:
        kind: What it is.
        value: Its identifier there (user name, client id, SPIFFE id, ``namespace/pod``, IP, service name).
        system: Where it lives (``keycloak``, ``okta``, ``kubernetes``, ``mesh``); None when not known.
        field: The ECS field it was read from.
    """

    model_config = ConfigDict(frozen=True)

    kind: EntityKind
    value: str = Field(min_length=1)
    system: str | None = None
    field: str | None = None

    @property
    def key(self) -> str:
        """The identity of the entity for grouping: kind, system and value (case-folded)."""
        return f"{self.kind}:{self.system or '-'}:{self.value.casefold()}"


class ActionKind(StrEnum):
    """Containment actions soar can take; each is reversible."""

    REVOKE_SESSIONS = "revoke_sessions"  # log a user out everywhere (Keycloak, Okta)
    DISABLE_USER = "disable_user"  # Keycloak enabled=false / Okta suspend
    DISABLE_CLIENT = "disable_client"  # Keycloak client enabled=false / Okta app deactivate (a TPP)
    DENY_PRINCIPAL = "deny_principal"  # Istio AuthorizationPolicy DENY for a SPIFFE principal
    QUARANTINE_WORKLOAD = "quarantine_workload"  # deny-all NetworkPolicy + quarantine label on a pod
    BLOCK_ADDRESS = "block_address"  # Istio AuthorizationPolicy DENY on the ingress gateway for an IP


# Actions that take a person's or a partner's access away need four-eyes approval.
HIGH_IMPACT: frozenset[ActionKind] = frozenset(
    {
        ActionKind.DISABLE_USER,
        ActionKind.DISABLE_CLIENT,
        ActionKind.DENY_PRINCIPAL,
        ActionKind.QUARANTINE_WORKLOAD,
        ActionKind.BLOCK_ADDRESS,
    }
)

TARGET_KINDS: dict[ActionKind, frozenset[EntityKind]] = {
    ActionKind.REVOKE_SESSIONS: frozenset({EntityKind.USER}),
    ActionKind.DISABLE_USER: frozenset({EntityKind.USER}),
    ActionKind.DISABLE_CLIENT: frozenset({EntityKind.CLIENT}),
    ActionKind.DENY_PRINCIPAL: frozenset({EntityKind.PRINCIPAL}),
    ActionKind.QUARANTINE_WORKLOAD: frozenset({EntityKind.WORKLOAD}),
    ActionKind.BLOCK_ADDRESS: frozenset({EntityKind.ADDRESS}),
}


# Where users and OAuth clients can be contained; a Kubernetes user is not an IdP account.
IDENTITY_PROVIDERS: frozenset[str] = frozenset({"keycloak", "okta"})


def can_target(kind: ActionKind, entity: Entity) -> bool:
    """Whether ``kind`` can act on ``entity``: the right kind of entity, in a system soar can act in."""
    if entity.kind not in TARGET_KINDS[kind]:
        return False
    if entity.kind == EntityKind.ADDRESS:
        return entity.system == "gateway"  # a mesh (pod) address is not blocked at the ingress gateway
    return entity.kind not in (EntityKind.USER, EntityKind.CLIENT) or entity.system in IDENTITY_PROVIDERS


def action_id(kind: ActionKind, target: Entity) -> str:
    """The id of an action within an incident: readable kind plus a short hash of the target."""
    digest = hashlib.sha256(target.key.encode()).hexdigest()[:8]
    return f"{kind}-{digest}"


def idempotency_key(incident_id: str, kind: ActionKind, target: Entity) -> str:
    """The key an action is executed under: the same incident, action and target, the same key, always."""
    return hashlib.sha256(f"{incident_id}\x00{kind}\x00{target.key}".encode()).hexdigest()[:32]


class ActionSpec(BaseModel):
    """One containment action to apply (or revert).

    Attributes:
        incident_id: The incident it contains.
        kind: The action.
        target: What it acts on.
        key: Idempotency key (:func:`idempotency_key`); connectors name what they create after it.
        reason: Why, in a sentence a person reads (goes into the request and the audit trail).
        requested_by: Who asked: a person, or ``soar`` when a playbook proposed it.
    """

    model_config = ConfigDict(frozen=True)

    incident_id: str
    kind: ActionKind
    target: Entity
    key: str
    reason: str
    requested_by: str

    @property
    def id(self) -> str:
        """The action's id within its incident."""
        return action_id(self.kind, self.target)


class ActionOutcome(StrEnum):
    """What executing an action did."""

    APPLIED = "applied"  # the change was made now
    ALREADY_APPLIED = "already_applied"  # the target was found already in the wanted state (a retry)
    DRY_RUN = "dry_run"  # nothing was sent: the request or manifest was written to a file
    REVERTED = "reverted"
    ALREADY_REVERTED = "already_reverted"


class ActionResult(BaseModel):
    """The result of applying or reverting an action; ``undo`` holds what reverting needs."""

    key: str
    kind: ActionKind
    outcome: ActionOutcome
    system: str
    detail: str
    requests: list[str] = Field(default_factory=list)  # "METHOD path" of each call made, never a secret
    undo: dict[str, Any] = Field(default_factory=dict)
    dry_run_file: str | None = None


class Decision(StrEnum):
    """A person's answer to an approval request."""

    APPROVE = "approve"
    REJECT = "reject"


class ApprovalDecision(BaseModel):
    """A signal to a containment workflow: a person approves or rejects its action."""

    model_config = ConfigDict(frozen=True)

    decision: Decision
    by: str = Field(min_length=1)
    at: AwareDatetime
    comment: str = ""


class ActionState(StrEnum):
    """Where a containment action is in its life."""

    PROPOSED = "proposed"  # waiting for approval
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"  # no decision in time
    APPLIED = "applied"
    FAILED = "failed"
    REVERTED = "reverted"


class ActionStatus(BaseModel):
    """A containment action as its incident shows it (signalled by the containment workflow)."""

    action_id: str
    kind: ActionKind
    target: Entity
    state: ActionState
    requested_by: str
    high_impact: bool
    approvals: list[str] = Field(default_factory=list)
    rejected_by: str | None = None
    outcome: ActionOutcome | None = None
    detail: str = ""
    workflow_id: str
    updated_at: AwareDatetime


def containment_workflow_id(incident_id: str, action: str) -> str:
    """The containment workflow of one action of one incident: started once, found again by the CLI."""
    return f"containment-{incident_id}-{action}"


def incident_workflow_id(incident_id: str) -> str:
    """The long-running workflow of one incident."""
    return f"incident-{incident_id}"


class IdentityContext(BaseModel):
    """What the identity provider knows about a user (triage enrichment); None fields are unknown."""

    system: str
    user_id: str
    username: str
    enabled: bool | None = None
    email: str | None = None
    groups: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    privileged: bool = False  # holds an admin role or group
    mfa_enrolled: bool | None = None


class NotificationKind(StrEnum):
    """Why soar tells people something."""

    APPROVAL_REQUEST = "approval_request"
    ESCALATION = "escalation"  # an approval or a deadline is overdue
    REMINDER = "reminder"  # a reporting deadline is near
    INFO = "info"


class Notification(BaseModel):
    """A message to the on-call channel (webhook); ``key`` makes re-sending it a no-op."""

    model_config = ConfigDict(frozen=True)

    key: str
    kind: NotificationKind
    incident_id: str
    subject: str
    text: str
    at: AwareDatetime


class IncidentAlert(BaseModel):
    """An alert as its incident sees it: what triage found, ready to be grouped.

    Attributes:
        alert_id: The alert's id (``soar.alert.uuid``).
        at: When the alerting event happened (the source event's time).
        priority: 1 (act now) to 4 (informational), from triage.
        entities: What the alert is about; incidents group alerts sharing one within the grouping window.
        service: The catalogue service the alert touches, if any.
    """

    model_config = ConfigDict(frozen=True)

    alert_id: str
    alert_index: str
    rule_id: str
    rule_title: str
    severity: str
    risk_score: int
    priority: int = Field(ge=1, le=4)
    at: AwareDatetime
    entities: list[Entity] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    dataset: str | None = None
    service: str | None = None
    source_index: str
    source_id: str


# Signal names of the response workflows, shared by the workflows, the activities and the CLI.
SIGNAL_DECIDE = "decide"  # containment: an ApprovalDecision
SIGNAL_REVERT = "revert"  # containment: revert an applied action now (str: who)
SIGNAL_ALERT = "alert"  # incident: an IncidentAlert joins
SIGNAL_ACTION = "action"  # incident: an ActionStatus changed
SIGNAL_UPDATE = "update"  # incident: people's facts (FIELD=VALUE)


class IncidentAttachment(BaseModel):
    """Which incident an alert joined (the ``incident.attach`` activity's answer)."""

    incident_id: str
    created: bool = False
