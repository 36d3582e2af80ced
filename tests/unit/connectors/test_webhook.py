"""The webhook connector: signed posts with an idempotency key, refusals and outages, against the fake receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from soar.connectors import Responders
from soar.connectors.webhook import WebhookConnector, signature
from soar.errors import ConnectorError, ConnectorUnavailable
from soar.response.models import Notification, NotificationKind
from soar.response.settings import WebhookSettings
from soar.testing import FakeWebhook, connector_settings


def _notification(key: str = "INC-1-approval-1") -> Notification:
    return Notification(
        key=key,
        kind=NotificationKind.APPROVAL_REQUEST,
        incident_id="INC-1",
        subject="Approve: disable user alice",
        text="Two approvals needed.",
        at=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
    )


async def test_post_is_signed_and_deduplicated_by_key(responders: Responders, webhook: FakeWebhook) -> None:
    await responders.notify(_notification())
    await responders.notify(_notification())  # a retried activity
    await responders.notify(_notification("INC-1-reminder-1"))
    assert [m["key"] for m in webhook.messages] == ["INC-1-approval-1", "INC-1-reminder-1"]
    assert webhook.mutations[("notify", "INC-1-approval-1")] == 2
    first = webhook.requests[0]
    assert first.headers["idempotency-key"] == "INC-1-approval-1"
    assert first.headers["x-soar-signature"].startswith("sha256=")
    assert first.body["subject"] == "Approve: disable user alice"
    assert first.body["at"] == "2025-03-01T09:30:00Z"


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"key":"k"}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert signature("s3cret", body) == f"sha256={expected}"


async def test_wrong_secret_is_refused_without_the_secret(webhook: FakeWebhook, tmp_path: Path) -> None:
    settings = connector_settings(webhook=webhook)
    assert settings.webhook is not None
    wrong = settings.webhook.model_copy(update={"secret": SecretStr("not-the-shared-one")})
    async with Responders(settings.model_copy(update={"webhook": wrong}), tmp_path) as responders:
        with pytest.raises(ConnectorError) as caught:
            await responders.notify(_notification())
    assert str(caught.value) == "webhook: POST <webhook url>: 401 Unauthorized: bad signature"
    assert webhook.messages == []


async def test_outage_is_retryable(responders: Responders, webhook: FakeWebhook) -> None:
    webhook.fail_next(1, status=502)
    with pytest.raises(ConnectorUnavailable, match="502"):
        await responders.notify(_notification())
    await responders.notify(_notification())
    assert len(webhook.messages) == 1


async def test_secret_in_the_url_path_never_reaches_a_message() -> None:
    # Chat webhooks carry their credential in the path; the connector must not print it.
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"message": f"no hook at {request.url.path}"})

    hook = "/services/T000/B000/XXXXsecretXXXX"
    settings = WebhookSettings(url=f"https://hooks.example.com{hook}")
    connector = WebhookConnector(settings, 5.0, httpx.MockTransport(refuse))
    with pytest.raises(ConnectorError) as caught:
        await connector.post(_notification())
    await connector.aclose()
    assert "XXXXsecretXXXX" not in str(caught.value)
    assert str(caught.value).startswith("webhook: POST <webhook url>: 404 Not Found")


async def test_unsigned_when_no_secret(webhook: FakeWebhook, tmp_path: Path) -> None:
    webhook.secret = None
    settings = connector_settings(webhook=webhook)
    async with Responders(settings, tmp_path) as responders:
        await responders.notify(_notification())
    assert "x-soar-signature" not in webhook.requests[0].headers
    assert json.loads(json.dumps(webhook.messages[0]))["kind"] == "approval_request"
