"""Temporal activities of the response side: the only way playbooks reach identity providers, the mesh, people.

Activities are methods of classes that receive their clients (:class:`~soar.connectors.Responders`);
:func:`response_activities` gives a worker all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from soar.actions.containment import ContainmentActivities, RevertInput, application_error
from soar.actions.notify import NotifyActivities
from soar.connectors.responders import Responders


def response_activities(responders: Responders) -> list[Callable[..., Any]]:
    """Every containment, identity and notification activity, sharing one :class:`Responders`."""
    return [*ContainmentActivities(responders).all(), *NotifyActivities(responders).all()]


__all__ = [
    "ContainmentActivities",
    "NotifyActivities",
    "RevertInput",
    "application_error",
    "response_activities",
]
