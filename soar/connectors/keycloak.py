"""Keycloak Admin REST API: end sessions, disable users and clients, read a user's identity context."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import httpx

from soar.connectors.base import Attempt, Call, Http, build_client, privileged, result
from soar.errors import ConnectorError
from soar.response.models import ActionKind, ActionOutcome, ActionResult, ActionSpec, IdentityContext
from soar.response.settings import KeycloakSettings

SYSTEM = "keycloak"
_FORM = "application/x-www-form-urlencoded"
_MFA_TYPES = frozenset({"otp", "webauthn", "webauthn-passwordless"})
# Refresh a little before the token expires, so a request never travels with a token about to die.
_EXPIRY_MARGIN = 15.0


def _q(value: str) -> str:
    return quote(value, safe="")


class KeycloakConnector:
    """Containment through Keycloak's Admin REST API with a service-account client (client_credentials).

    Args:
        settings: Where Keycloak is and the client soar authenticates as.
        timeout: Seconds per request.
        transport: An httpx transport (tests pass ``httpx.MockTransport``).
    """

    system = SYSTEM

    def __init__(
        self, settings: KeycloakSettings, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.admin = f"/admin/realms/{_q(settings.realm)}"
        self.token_path = (
            f"/realms/{_q(settings.token_realm or settings.realm)}/protocol/openid-connect/token"
        )
        self._secret: str = settings.client_secret.get_secret_value()
        client = build_client(SYSTEM, settings.url, settings, timeout, transport=transport)
        self.http = Http(SYSTEM, client, secrets=[self._secret])
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def _bearer(self, trace: list[str]) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                await self._fetch_token(trace)
            assert self._token is not None  # set by _fetch_token or it raised
            return self._token

    async def _fetch_token(self, trace: list[str]) -> None:
        call = Call("POST", self.token_path)
        form = {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_secret": self._secret,
        }
        body = (await self.http.send(call, trace, form=form)).json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise self.http.refuse(call, "no access_token in the token response")
        lifetime = float(body.get("expires_in", 60))
        self._token = token
        self._expires = time.monotonic() + max(lifetime - _EXPIRY_MARGIN, lifetime / 2)
        self.http.secrets = [self._secret, token]

    async def _admin(
        self, call: Call, trace: list[str], allow: frozenset[int] = frozenset()
    ) -> httpx.Response:
        """An admin call with the cached token; on 401 the token is fetched again and the call sent once more."""
        token = await self._bearer(trace)
        response = await self.http.send(
            call, trace, headers={"Authorization": f"Bearer {token}"}, allow=allow | {401}
        )
        if response.status_code != 401:
            return response
        async with self._lock:
            if self._token == token:  # nobody refreshed it meanwhile
                self._token = None
        token = await self._bearer(trace)
        return await self.http.send(call, trace, headers={"Authorization": f"Bearer {token}"}, allow=allow)

    async def _json(self, call: Call, trace: list[str]) -> Any:
        return (await self._admin(call, trace)).json()

    async def find_user(self, username: str, trace: list[str]) -> dict[str, Any] | None:
        """The user whose username (or, for an address, e-mail) is ``username``; None when there is none."""
        wanted = username.casefold()
        for attribute in ("username", "email") if "@" in username else ("username",):
            call = Call("GET", f"{self.admin}/users", params={attribute: username, "exact": "true"})
            for user in await self._json(call, trace):
                if str(user.get(attribute, "")).casefold() == wanted:
                    return dict(user)
        return None

    async def _user_id(self, username: str, trace: list[str]) -> str:
        user = await self.find_user(username, trace)
        if user is None:
            raise ConnectorError(f"keycloak: user {username!r} not found in realm {self.settings.realm}")
        return str(user["id"])

    async def _client_id(self, client_id: str, trace: list[str]) -> str:
        call = Call("GET", f"{self.admin}/clients", params={"clientId": client_id})
        for client in await self._json(call, trace):
            if client.get("clientId") == client_id:
                return str(client["id"])
        raise ConnectorError(f"keycloak: client {client_id!r} not found in realm {self.settings.realm}")

    async def apply(self, spec: ActionSpec, attempt: Attempt) -> ActionResult:
        """Apply ``spec``: check the current state first, change it only when needed."""
        trace: list[str] = []
        if spec.kind is ActionKind.REVOKE_SESSIONS:
            return await self._revoke_sessions(spec, attempt, trace)
        if spec.kind is ActionKind.DISABLE_USER:
            user_id = await self._user_id(spec.target.value, trace)
            return await self._disable(spec, attempt, trace, "users", user_id)
        if spec.kind is ActionKind.DISABLE_CLIENT:
            client_id = await self._client_id(spec.target.value, trace)
            return await self._disable(spec, attempt, trace, "clients", client_id)
        raise ConnectorError(f"keycloak: cannot {spec.kind}")

    async def revert(self, spec: ActionSpec, applied: ActionResult) -> ActionResult:
        """Undo ``applied``: enable again what soar disabled, and only that."""
        trace: list[str] = []
        if spec.kind is ActionKind.REVOKE_SESSIONS:
            detail = "nothing to undo: ended sessions cannot be restored; the user can sign in again"
            return result(spec, ActionOutcome.ALREADY_REVERTED, SYSTEM, detail, trace, applied.undo)
        resource = "users" if spec.kind is ActionKind.DISABLE_USER else "clients"
        if spec.kind not in (ActionKind.DISABLE_USER, ActionKind.DISABLE_CLIENT):
            raise ConnectorError(f"keycloak: cannot revert {spec.kind}")
        return await self._enable(spec, applied, trace, resource)

    async def _revoke_sessions(self, spec: ActionSpec, attempt: Attempt, trace: list[str]) -> ActionResult:
        user_id = await self._user_id(spec.target.value, trace)
        base = f"{self.admin}/users/{_q(user_id)}"
        sessions = await self._json(Call("GET", f"{base}/sessions"), trace)
        undo = {"id": user_id}
        if not sessions:
            detail = f"user {spec.target.value} has no active session"
            return result(spec, ActionOutcome.ALREADY_APPLIED, SYSTEM, detail, trace, undo)
        await attempt.before_change(undo)
        await self._admin(Call("POST", f"{base}/logout"), trace)
        detail = f"ended {len(sessions)} session(s) of user {spec.target.value}"
        return result(spec, ActionOutcome.APPLIED, SYSTEM, detail, trace, undo)

    async def _disable(
        self, spec: ActionSpec, attempt: Attempt, trace: list[str], resource: str, object_id: str
    ) -> ActionResult:
        path = f"{self.admin}/{resource}/{_q(object_id)}"
        representation = await self._json(Call("GET", path), trace)
        what = f"{resource[:-1]} {spec.target.value}"
        if not representation.get("enabled", True):
            previous = attempt.previous or {}
            # An earlier attempt that recorded "was enabled" for this object disabled it before it died.
            was_enabled = previous.get("id") == object_id and bool(previous.get("was_enabled"))
            undo = {"id": object_id, "was_enabled": was_enabled}
            detail = f"{what} was already disabled" + ("" if was_enabled else " before soar acted")
            return result(spec, ActionOutcome.ALREADY_APPLIED, SYSTEM, detail, trace, undo)
        undo = {"id": object_id, "was_enabled": True}
        await attempt.before_change(undo)
        # The whole representation goes back: since Keycloak 24 a partial PUT may clear omitted fields.
        await self._admin(Call("PUT", path, body={**representation, "enabled": False}), trace)
        return result(spec, ActionOutcome.APPLIED, SYSTEM, f"disabled {what}", trace, undo)

    async def _enable(
        self, spec: ActionSpec, applied: ActionResult, trace: list[str], resource: str
    ) -> ActionResult:
        what = f"{resource[:-1]} {spec.target.value}"
        if not applied.undo.get("was_enabled"):
            detail = f"left {what} disabled: it was disabled before soar acted"
            return result(spec, ActionOutcome.ALREADY_REVERTED, SYSTEM, detail, trace, applied.undo)
        object_id = applied.undo.get("id")
        if not isinstance(object_id, str):
            raise ConnectorError(f"keycloak: cannot revert {spec.kind} of {spec.target.value}: no id in undo")
        path = f"{self.admin}/{resource}/{_q(object_id)}"
        call = Call("GET", path)
        response = await self._admin(call, trace, allow=frozenset({404}))
        if response.status_code == 404:
            raise self.http.refuse(call, f"{what} no longer exists")
        representation = response.json()
        if representation.get("enabled", True):
            detail = f"{what} was already enabled"
            return result(spec, ActionOutcome.ALREADY_REVERTED, SYSTEM, detail, trace, applied.undo)
        await self._admin(Call("PUT", path, body={**representation, "enabled": True}), trace)
        return result(spec, ActionOutcome.REVERTED, SYSTEM, f"enabled {what} again", trace, applied.undo)

    async def identity(self, username: str) -> IdentityContext | None:
        """The user's account, groups, roles and second factors; None when Keycloak has no such user."""
        trace: list[str] = []
        user = await self.find_user(username, trace)
        if user is None:
            return None
        base = f"{self.admin}/users/{_q(str(user['id']))}"
        groups = [
            str(g.get("path") or g.get("name"))
            for g in await self._json(Call("GET", f"{base}/groups"), trace)
        ]
        mappings = await self._json(Call("GET", f"{base}/role-mappings"), trace)
        roles = [str(r["name"]) for r in mappings.get("realmMappings") or []]
        for client, mapping in (mappings.get("clientMappings") or {}).items():
            roles.extend(f"{client}:{r['name']}" for r in mapping.get("mappings") or [])
        credentials = await self._json(Call("GET", f"{base}/credentials"), trace)
        return IdentityContext(
            system=SYSTEM,
            user_id=str(user["id"]),
            username=str(user.get("username", username)),
            enabled=user.get("enabled"),
            email=user.get("email"),
            groups=groups,
            roles=roles,
            privileged=privileged([*groups, *roles]),
            mfa_enrolled=any(c.get("type") in _MFA_TYPES for c in credentials) or bool(user.get("totp")),
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()


def plan(
    spec: ActionSpec, phase: str, realm: str, token_realm: str, client_id: str
) -> tuple[list[Call], str]:
    """The calls applying or reverting ``spec`` would make, with ids Keycloak would return as placeholders."""
    admin = f"/admin/realms/{realm}"
    token = Call(
        "POST",
        f"/realms/{token_realm}/protocol/openid-connect/token",
        body={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "<redacted>"},
        content_type=_FORM,
        anonymous=True,
    )
    value = spec.target.value
    if spec.kind is ActionKind.REVOKE_SESSIONS:
        if phase == "revert":
            return [], "nothing to undo: ended sessions cannot be restored"
        user = f"{admin}/users/{{id of {value}}}"
        find = Call("GET", f"{admin}/users", params={"username": value, "exact": "true"})
        calls = [token, find, Call("GET", f"{user}/sessions"), Call("POST", f"{user}/logout")]
        return calls, "logout is sent only when the user has a session"
    if spec.kind is ActionKind.DISABLE_USER:
        find = Call("GET", f"{admin}/users", params={"username": value, "exact": "true"})
        path = f"{admin}/users/{{id of {value}}}"
    else:
        find = Call("GET", f"{admin}/clients", params={"clientId": value})
        path = f"{admin}/clients/{{id of {value}}}"
    enabled = phase == "revert"
    calls = [
        token,
        *([] if enabled else [find]),
        Call("GET", path),
        Call("PUT", path, body={"enabled": enabled}),
    ]
    note = "PUT sends the current representation with only 'enabled' changed, and only when it differs"
    if enabled:
        note += "; revert enables only what was enabled before soar acted"
    return calls, note
