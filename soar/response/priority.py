"""Triage priority: from the alert's risk score, raised by what is at stake (service, identity, spread)."""

from __future__ import annotations

from pydantic import BaseModel

from soar.response.models import IdentityContext
from soar.response.settings import Service

# Risk score floors of priorities 1 to 3 (Kibana's defaults: critical 99, high 73, medium 47, low 21).
_FLOORS = ((90, 1), (70, 2), (40, 3))


class Priority(BaseModel):
    """A priority from 1 (act now) to 4 (informational), with the reasons a person reads."""

    value: int
    reasons: list[str]


def triage_priority(
    risk_score: int,
    *,
    service: Service | None = None,
    identities: list[IdentityContext] | None = None,
    related_events: int = 0,
) -> Priority:
    """The priority of an alert: its risk score's band, one step up for each aggravating fact (at most 1)."""
    value = next((p for floor, p in _FLOORS if risk_score >= floor), 4)
    reasons = [f"risk score {risk_score} -> priority {value}"]
    if service is not None and (service.critical_function or service.criticality == "critical"):
        value -= 1
        reasons.append(f"service {service.name} supports a critical or important function")
    privileged = [i.username for i in identities or [] if i.privileged]
    if privileged:
        value -= 1
        reasons.append(f"privileged identity: {', '.join(sorted(privileged))}")
    if related_events >= 50:
        value -= 1
        reasons.append(f"{related_events} related events in the window")
    value = max(1, min(4, value))
    reasons.append(f"priority {value}")
    return Priority(value=value, reasons=reasons)
