"""Notifications to the on-call channel: a signed JSON POST with an idempotency key."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

import httpx

from soar.connectors.base import Call, Http, build_client, encode
from soar.response.models import Notification
from soar.response.settings import WebhookSettings

SYSTEM = "webhook"
SIGNATURE_HEADER = "X-Soar-Signature"


def signature(secret: str, body: bytes) -> str:
    """The ``X-Soar-Signature`` value of ``body``: ``sha256=<hex HMAC-SHA256 with the shared secret>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(notification: Notification) -> dict[str, Any]:
    """The JSON document a notification is posted as."""
    return notification.model_dump(mode="json")


def headers(notification: Notification, body: bytes, secret: str | None) -> dict[str, str]:
    """The headers of one post: content type, idempotency key and, with a secret, the signature."""
    sent = {"Content-Type": "application/json", "Idempotency-Key": notification.key}
    if secret:
        sent[SIGNATURE_HEADER] = signature(secret, body)
    return sent


class WebhookConnector:
    """Posts notifications to one webhook URL (the receiver dedups by ``Idempotency-Key``).

    Args:
        settings: The URL, the optional signing secret and TLS options.
        timeout: Seconds per request.
        transport: An httpx transport (tests pass ``httpx.MockTransport``).
    """

    system = SYSTEM

    def __init__(
        self, settings: WebhookSettings, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        parts = urlsplit(settings.url)
        self.path = parts.path or "/"
        if parts.query:
            self.path += f"?{parts.query}"
        self.secret = settings.secret.get_secret_value() if settings.secret else None
        origin = f"{parts.scheme}://{parts.netloc}"
        client = build_client(SYSTEM, origin, settings, timeout, transport=transport)
        # Chat webhooks (Slack, Teams) carry their secret in the URL path: it is redacted too.
        hidden = parts.path.strip("/")
        secrets = [self.secret or "", hidden if len(hidden) >= 8 else ""]
        self.http = Http(SYSTEM, client, secrets=secrets)

    async def post(self, notification: Notification) -> list[str]:
        """Post ``notification``; a 409 (duplicate key at the receiver) counts as delivered.

        Raises:
            ConnectorError: The receiver refused it (4xx), or ConnectorUnavailable (network, 5xx).
        """
        trace: list[str] = []
        body = encode(payload(notification))
        sent = headers(notification, body, self.secret)
        call = Call("POST", self.path, shown="<webhook url>")
        # The body goes as raw bytes so the signature covers exactly what is sent.
        await self.http.send(call, trace, content=body, headers=sent, allow=frozenset({409}))
        return trace

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()
