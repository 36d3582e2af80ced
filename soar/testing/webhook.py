"""A fake webhook receiver: records posts, verifies the HMAC signature, dedups by Idempotency-Key."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from soar.response.settings import WebhookSettings
from soar.testing.server import FakeServer, Incoming, Reply


class FakeWebhook(FakeServer):
    """Accepts ``POST`` on any path, as a chat or paging webhook would.

    With a secret, a post without a valid ``X-Soar-Signature: sha256=<hmac>`` is refused (401). A post whose
    ``Idempotency-Key`` was seen is answered 200 but not delivered again. ``received`` holds every accepted
    post, ``messages`` the delivered (deduplicated) ones; the counter ``("notify", <key>)`` counts posts.

    Args:
        secret: The shared signing secret (None: signatures are not checked).
    """

    kind = "webhook"
    config_keys = ("secret",)

    def __init__(self, *, secret: str | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.secret = secret
        self.received: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self._keys: set[str] = set()
        self.route("POST", "/.*", self._post)

    @staticmethod
    def settings_from(url: str, config: Mapping[str, Any], **tls: Any) -> WebhookSettings:
        """Settings pointing at a fake webhook at ``url`` (add the path you want to post to)."""
        secret = config.get("secret")
        return WebhookSettings(url=f"{url}/hooks/soar", secret=SecretStr(secret) if secret else None, **tls)

    def _post(self, request: Incoming) -> Reply:
        if self.secret is not None:
            wanted = "sha256=" + hmac.new(self.secret.encode(), request.body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(request.headers.get("x-soar-signature", ""), wanted):
                return Reply(401, {"error": "bad signature"})
        message = json.loads(request.body)
        key = request.headers.get("idempotency-key")
        self.received.append(message)
        self.count("notify", key or "-")
        if key is not None and key in self._keys:
            return Reply(200, {"duplicate": True})
        if key is not None:
            self._keys.add(key)
        self.messages.append(message)
        return Reply(200, {"duplicate": False})
