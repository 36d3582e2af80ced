"""What the triage playbook works with: the enriched alert, the candidate actions, and its result."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field

from soar.response.models import ActionKind, Entity, IdentityContext
from soar.response.settings import ApprovalPolicy, Service


class Candidate(BaseModel):
    """A containment action the response file proposes for the alert if its priority is high enough."""

    action: ActionKind
    target: Entity
    max_priority: int


class Enrichment(BaseModel):
    """The alert with its context: entities, identities, service, related activity, geography.

    Attributes:
        related_events: Events of the same source within ``related_window`` of the alert sharing an entity.
        candidates: Containment the response file proposes, each up to a priority.
        notes: What could not be looked up and why (an IdP not configured, a lookup that failed).
    """

    alert_id: str
    alert_index: str
    rule_id: str
    rule_title: str
    severity: str
    risk_score: int
    tags: list[str] = Field(default_factory=list)
    group: str = ""
    dataset: str | None = None
    at: AwareDatetime
    source_index: str
    source_id: str
    entities: list[Entity] = Field(default_factory=list)
    identities: list[IdentityContext] = Field(default_factory=list)
    service: Service | None = None
    country: str | None = None
    related_events: int = 0
    candidates: list[Candidate] = Field(default_factory=list)
    approvals: ApprovalPolicy = Field(default_factory=ApprovalPolicy)  # the policy in force for its proposals
    notes: list[str] = Field(default_factory=list)


class TriageResult(BaseModel):
    """What triage decided for one alert."""

    alert_id: str
    priority: int
    reasons: list[str]
    incident_id: str | None = None
    incident_created: bool = False
    proposed: list[str] = Field(default_factory=list)  # containment workflow ids started (or already running)
