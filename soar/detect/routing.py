"""Routing of alerts to playbooks: a table of routes matched by rule id, tag, level or source."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Route(BaseModel):
    """One route: alerts it matches start ``workflow`` on ``task_queue``.

    Every non-empty criterion must match (a criterion lists alternatives); a route with no criteria
    matches every alert. Building-block alerts (level ``informational``) match only routes that name
    their rule id, because they exist for correlations, not for people.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    workflow: str
    task_queue: str = "soar"
    rule_ids: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    levels: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)

    def matches(self, alert: AlertFacts) -> bool:
        """Whether this route takes the alert."""
        if alert.level == "informational" and alert.rule_id not in self.rule_ids:
            return False
        if self.rule_ids and alert.rule_id not in self.rule_ids:
            return False
        if self.tags and not {t.lower() for t in self.tags} & {t.lower() for t in alert.tags}:
            return False
        if self.levels and alert.level not in self.levels:
            return False
        return not self.sources or alert.source in self.sources


class AlertFacts(BaseModel):
    """What routing looks at in an alert."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    level: str
    source: str
    tags: list[str] = Field(default_factory=list)


class RoutingTable(BaseModel):
    """Routes in order; the first that matches takes the alert. Empty until playbooks exist."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: list[Route] = Field(default_factory=list)

    def route(self, alert: AlertFacts) -> Route | None:
        """The first route matching the alert, or None."""
        return next((r for r in self.routes if r.matches(alert)), None)


class AlertHandOver(BaseModel):
    """The input a routed playbook workflow is started with."""

    alert_id: str
    alert_index: str
    rule_id: str
    rule_title: str
    severity: str
    source_index: str
    source_id: str
    original_time: str | None = None
