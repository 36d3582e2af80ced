"""The notification activity: post to the on-call webhook, once per notification key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from soar.actions.containment import application_error
from soar.connectors.responders import Responders
from soar.errors import SoarError
from soar.response.models import Notification


class NotifyActivities:
    """Activities that tell people things, holding the connectors.

    Args:
        responders: The connectors, built once per worker from the connector settings.
    """

    def __init__(self, responders: Responders) -> None:
        self.responders = responders

    @activity.defn(name="response.notify")
    async def notify(self, notification: Notification) -> None:
        """Post one notification (signed, with its key as ``Idempotency-Key``), or write it in dry-run."""
        try:
            await self.responders.notify(notification)
        except SoarError as exc:
            raise application_error(exc) from exc

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for a worker."""
        return [self.notify]
