"""The response file: which playbook each alert starts, and which containment triage proposes for it.

``response/routing.yml``::

    routes:                 # first match wins; building blocks only match routes naming their rule id
      - workflow: Triage
        levels: [low, medium, high, critical]
    containment:            # every matching entry proposes its action for each target of the right kind
      - action: revoke_sessions
        tags: [attack.credential-access]
        max_priority: 2     # only for alerts of priority 1 or 2
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from soar.detect.routing import AlertFacts, Route, RoutingTable
from soar.errors import ConfigError
from soar.response.models import ActionKind, Entity, can_target


class ContainmentRule(BaseModel):
    """Propose ``action`` for alerts matching the criteria (as a route matches) up to ``max_priority``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: ActionKind
    rule_ids: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    levels: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    max_priority: int = Field(default=2, ge=1, le=4)

    def _route(self) -> Route:
        return Route(
            workflow="-", rule_ids=self.rule_ids, tags=self.tags, levels=self.levels, sources=self.sources
        )

    def targets(self, alert: AlertFacts, priority: int, entities: list[Entity]) -> list[Entity]:
        """The entities this rule proposes its action for (none when it does not apply)."""
        if priority > self.max_priority or not self._route().matches(alert):
            return []
        return [e for e in entities if can_target(self.action, e)]


class ResponseFile(BaseModel):
    """The parsed response file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: list[Route] = Field(default_factory=list)
    containment: list[ContainmentRule] = Field(default_factory=list)

    @property
    def routing(self) -> RoutingTable:
        """The routes as the detection engine's routing table."""
        return RoutingTable(routes=self.routes)


def load_response_file(path: Path | None) -> ResponseFile:
    """Read the response file; no file means no routes (alerts stay unrouted) and no proposals.

    Raises:
        ConfigError: unreadable file or an invalid entry (names the file and the entry).
    """
    if path is None:
        return ResponseFile()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return ResponseFile.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the response file: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
