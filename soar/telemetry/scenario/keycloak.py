"""Keycloak JSON event-listener records: customer user events and admin events of the retail realm."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from soar.telemetry.scenario.ids import epoch_millis, uuid_like
from soar.telemetry.scenario.recorder import Context, Trail
from soar.telemetry.sources import Source

REALM = "bank-retail"
CLIENTS = {"mobile": "mobile-banking", "web": "web-banking"}
REDIRECTS = {
    "mobile-banking": "bank.example.app://oauth2redirect",
    "web-banking": "https://online.bank.example/callback",
}
ADMIN_CLIENT = "admin-cli"


def user_event(
    ctx: Context,
    at: datetime,
    kind: str,
    *,
    client: str,
    username: str,
    ip: str,
    user_id: str | None,
    session_id: str | None,
    error: str | None = None,
    extra: dict[str, str] | None = None,
    trail: Trail | None = None,
) -> str:
    """Write one user event (``LOGIN``, ``LOGIN_ERROR``, ``REFRESH_TOKEN``...); returns its id."""
    at = ctx.clamp(at)
    details = _details(ctx, kind, client, username)
    details.update(extra or {})
    rec: dict[str, Any] = {
        "id": uuid_like(ctx.rng),
        "time": epoch_millis(at),
        "type": kind,
        "realmId": REALM,
        "clientId": client,
        "userId": user_id,
        "sessionId": session_id,
        "ipAddress": ip,
    }
    if error is not None:
        rec["error"] = error
    rec["details"] = details
    return ctx.emit(Source.KEYCLOAK, at, rec, trail)


def _details(ctx: Context, kind: str, client: str, username: str) -> dict[str, str]:
    """The ``details`` map Keycloak writes for ``kind``."""
    details: dict[str, str] = {"auth_method": "openid-connect", "username": username}
    if kind in ("LOGIN", "LOGIN_ERROR"):
        details.update(auth_type="code", redirect_uri=REDIRECTS[client], code_id=uuid_like(ctx.rng))
    if kind in ("CODE_TO_TOKEN", "REFRESH_TOKEN"):
        details.update(
            token_id=uuid_like(ctx.rng),
            refresh_token_id=uuid_like(ctx.rng),
            refresh_token_type="Refresh",
            scope="openid profile email",
            grant_type="authorization_code" if kind == "CODE_TO_TOKEN" else "refresh_token",
            client_auth_method="client-secret" if client == "web-banking" else "none",
        )
    return details


def admin_event(
    ctx: Context,
    at: datetime,
    *,
    operation: str,
    resource_type: str,
    resource_path: str,
    representation: dict[str, Any] | list[Any] | None,
    admin_user_id: str,
    ip: str,
    error: str | None = None,
    trail: Trail | None = None,
) -> str:
    """Write one admin event (a change made through the admin API); returns its id."""
    at = ctx.clamp(at)
    rec: dict[str, Any] = {
        "id": uuid_like(ctx.rng),
        "time": epoch_millis(at),
        "realmId": REALM,
        "authDetails": {
            "realmId": "master",
            "clientId": ADMIN_CLIENT,
            "userId": admin_user_id,
            "ipAddress": ip,
        },
        "operationType": operation,
        "resourceType": resource_type,
        "resourcePath": resource_path,
    }
    if representation is not None:
        rec["representation"] = json.dumps(representation, separators=(",", ":"))
    if error is not None:
        rec["error"] = error
    return ctx.emit(Source.KEYCLOAK, at, rec, trail)
