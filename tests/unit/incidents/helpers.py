"""Builders shared by the incident unit tests."""

from __future__ import annotations

from datetime import UTC, datetime

from soar.response.models import Entity, EntityKind, IncidentAlert

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def alert(
    alert_id: str = "a1b2c3d4e5",
    *,
    at: datetime = T0,
    entities: list[Entity] | None = None,
    tags: list[str] | None = None,
    service: str | None = None,
    rule_id: str = "rule-1",
    priority: int = 3,
) -> IncidentAlert:
    return IncidentAlert(
        alert_id=alert_id,
        alert_index="soar-alerts-default",
        rule_id=rule_id,
        rule_title=f"title of {rule_id}",
        severity="high",
        risk_score=73,
        priority=priority,
        at=at,
        entities=entities if entities is not None else [user("alice")],
        tags=tags or [],
        service=service,
        source_index="logs-payments.transaction-default",
        source_id=f"src-{alert_id}",
    )


def user(name: str) -> Entity:
    return Entity(kind=EntityKind.USER, value=name, system="keycloak")
