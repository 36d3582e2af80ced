"""Okta management API: clear sessions, suspend users, deactivate apps, read a user's identity context."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx

from soar.connectors.base import Attempt, Call, Http, build_client, privileged, result
from soar.errors import ConnectorError
from soar.response.models import ActionKind, ActionOutcome, ActionResult, ActionSpec, IdentityContext
from soar.response.settings import OktaSettings

SYSTEM = "okta"
_APP_ID = re.compile(r"^0oa[0-9A-Za-z]{17}$")
# Statuses in which the person can still sign in (Okta's user status values).
_SIGN_IN = frozenset({"ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY"})


def _q(value: str) -> str:
    return quote(value, safe="@")


class OktaConnector:
    """Containment through the Okta management API with an API token (``SSWS``).

    Args:
        settings: Where the Okta org is and the token.
        timeout: Seconds per request.
        transport: An httpx transport (tests pass ``httpx.MockTransport``).
    """

    system = SYSTEM

    def __init__(
        self, settings: OktaSettings, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        token = settings.api_token.get_secret_value()
        headers = {"Authorization": f"SSWS {token}", "Accept": "application/json"}
        client = build_client(SYSTEM, settings.url, settings, timeout, headers=headers, transport=transport)
        self.http = Http(SYSTEM, client, secrets=[token])

    async def _get(self, path: str, trace: list[str], what: str | None = None) -> Any:
        """GET a JSON document; with ``what``, a 404 is a refusal naming it, else None."""
        call = Call("GET", path)
        response = await self.http.send(call, trace, allow=frozenset({404}))
        if response.status_code == 404:
            if what is None:
                return None
            raise self.http.refuse(call, f"{what} not found")
        return response.json()

    async def _user(self, login: str, trace: list[str]) -> dict[str, Any]:
        user: dict[str, Any] = await self._get(f"/api/v1/users/{_q(login)}", trace, f"user {login!r}")
        return user

    async def _app(self, value: str, trace: list[str]) -> dict[str, Any]:
        """The app whose id, label, name or OAuth client_id is ``value`` (exactly one)."""
        if _APP_ID.match(value):
            app: dict[str, Any] = await self._get(f"/api/v1/apps/{value}", trace, f"app {value!r}")
            return app
        call = Call("GET", "/api/v1/apps", params={"q": value, "limit": "200"})
        apps = (await self.http.send(call, trace)).json()
        found = [a for a in apps if value in (a.get("label"), a.get("name"), _client_id(a))]
        if len(found) != 1:
            why = "no app" if not found else f"{len(found)} apps"
            raise self.http.refuse(call, f"{why} with id, label, name or client_id {value!r}")
        return dict(found[0])

    async def apply(self, spec: ActionSpec, attempt: Attempt) -> ActionResult:
        """Apply ``spec``: check the current state first, change it only when needed."""
        trace: list[str] = []
        if spec.kind is ActionKind.REVOKE_SESSIONS:
            user = await self._user(spec.target.value, trace)
            undo = {"id": user["id"]}
            await attempt.before_change(undo)
            # Okta documents no way to list a user's sessions: clearing none is a no-op, so a retry may resend it.
            call = Call("DELETE", f"/api/v1/users/{user['id']}/sessions", params={"oauthTokens": "true"})
            await self.http.send(call, trace)
            detail = f"cleared the sessions and OAuth tokens of user {spec.target.value}"
            return result(spec, ActionOutcome.APPLIED, SYSTEM, detail, trace, undo)
        if spec.kind is ActionKind.DISABLE_USER:
            return await self._suspend(spec, attempt, trace)
        if spec.kind is ActionKind.DISABLE_CLIENT:
            return await self._deactivate(spec, attempt, trace)
        raise ConnectorError(f"okta: cannot {spec.kind}")

    async def _suspend(self, spec: ActionSpec, attempt: Attempt, trace: list[str]) -> ActionResult:
        user = await self._user(spec.target.value, trace)
        user_id, status = str(user["id"]), str(user.get("status"))
        name = f"user {spec.target.value}"
        if status in ("SUSPENDED", "DEPROVISIONED"):
            undo = {"id": user_id, "was_active": _was_on(attempt, user_id)}
            detail = f"{name} was already {status}" + ("" if undo["was_active"] else " before soar acted")
            return result(spec, ActionOutcome.ALREADY_APPLIED, SYSTEM, detail, trace, undo)
        call = Call("POST", f"/api/v1/users/{user_id}/lifecycle/suspend")
        if status != "ACTIVE":
            raise self.http.refuse(call, f"{name} is {status}: Okta suspends only an ACTIVE user")
        undo = {"id": user_id, "was_active": True}
        await attempt.before_change(undo)
        await self.http.send(call, trace)
        return result(spec, ActionOutcome.APPLIED, SYSTEM, f"suspended {name}", trace, undo)

    async def _deactivate(self, spec: ActionSpec, attempt: Attempt, trace: list[str]) -> ActionResult:
        app = await self._app(spec.target.value, trace)
        app_id, status = str(app["id"]), str(app.get("status"))
        name = f"app {spec.target.value}"
        if status == "INACTIVE":
            undo = {"id": app_id, "was_active": _was_on(attempt, app_id)}
            detail = f"{name} was already INACTIVE" + ("" if undo["was_active"] else " before soar acted")
            return result(spec, ActionOutcome.ALREADY_APPLIED, SYSTEM, detail, trace, undo)
        undo = {"id": app_id, "was_active": True}
        await attempt.before_change(undo)
        await self.http.send(Call("POST", f"/api/v1/apps/{app_id}/lifecycle/deactivate"), trace)
        return result(spec, ActionOutcome.APPLIED, SYSTEM, f"deactivated {name}", trace, undo)

    async def revert(self, spec: ActionSpec, applied: ActionResult) -> ActionResult:
        """Undo ``applied``: unsuspend or activate again what soar turned off, and only that."""
        trace: list[str] = []
        undo = applied.undo
        if spec.kind is ActionKind.REVOKE_SESSIONS:
            detail = "nothing to undo: cleared sessions cannot be restored; the user can sign in again"
            return result(spec, ActionOutcome.ALREADY_REVERTED, SYSTEM, detail, trace, undo)
        if spec.kind not in (ActionKind.DISABLE_USER, ActionKind.DISABLE_CLIENT):
            raise ConnectorError(f"okta: cannot revert {spec.kind}")
        user = spec.kind is ActionKind.DISABLE_USER
        name = f"{'user' if user else 'app'} {spec.target.value}"
        if not undo.get("was_active"):
            detail = f"left {name} as it was: it was not active before soar acted"
            return result(spec, ActionOutcome.ALREADY_REVERTED, SYSTEM, detail, trace, undo)
        object_id = undo.get("id")
        if not isinstance(object_id, str):
            raise ConnectorError(f"okta: cannot revert {spec.kind} of {spec.target.value}: no id in undo")
        base = f"/api/v1/{'users' if user else 'apps'}/{object_id}"
        current = await self._get(base, trace, name)
        status = str(current.get("status"))
        off, operation = ("SUSPENDED", "unsuspend") if user else ("INACTIVE", "activate")
        call = Call("POST", f"{base}/lifecycle/{operation}")
        if status != off:
            if status == "ACTIVE":
                return result(
                    spec, ActionOutcome.ALREADY_REVERTED, SYSTEM, f"{name} was already ACTIVE", trace, undo
                )
            raise self.http.refuse(call, f"{name} is {status}: only a {off} one can be turned back on")
        await self.http.send(call, trace)
        done = "unsuspended" if user else "activated"
        return result(spec, ActionOutcome.REVERTED, SYSTEM, f"{done} {name}", trace, undo)

    async def identity(self, login: str) -> IdentityContext | None:
        """The user's account, groups and enrolled factors; None when Okta has no such user."""
        trace: list[str] = []
        user = await self._get(f"/api/v1/users/{_q(login)}", trace)
        if user is None:
            return None
        user_id = str(user["id"])
        groups = [
            str(g["profile"]["name"]) for g in await self._get(f"/api/v1/users/{user_id}/groups", trace)
        ]
        factors = await self._get(f"/api/v1/users/{user_id}/factors", trace)
        profile = user.get("profile") or {}
        return IdentityContext(
            system=SYSTEM,
            user_id=user_id,
            username=str(profile.get("login", login)),
            enabled=str(user.get("status")) in _SIGN_IN,
            email=profile.get("email"),
            groups=groups,
            privileged=privileged(groups),
            mfa_enrolled=any(f.get("status") == "ACTIVE" for f in factors),
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()


def _client_id(app: dict[str, Any]) -> str | None:
    oauth = (app.get("credentials") or {}).get("oauthClient") or {}
    value = oauth.get("client_id")
    return str(value) if value else None


def _was_on(attempt: Attempt, object_id: str) -> bool:
    """Whether an earlier attempt recorded the object as active before it turned it off."""
    previous = attempt.previous or {}
    return previous.get("id") == object_id and bool(previous.get("was_active"))


def plan(spec: ActionSpec, phase: str) -> tuple[list[Call], str]:
    """The calls applying or reverting ``spec`` would make, with ids Okta would return as placeholders."""
    value = spec.target.value
    if spec.kind is ActionKind.REVOKE_SESSIONS:
        if phase == "revert":
            return [], "nothing to undo: cleared sessions cannot be restored"
        sessions = Call("DELETE", f"/api/v1/users/{{id of {value}}}/sessions", params={"oauthTokens": "true"})
        return [Call("GET", f"/api/v1/users/{_q(value)}"), sessions], ""
    if spec.kind is ActionKind.DISABLE_USER:
        find = Call("GET", f"/api/v1/users/{_q(value)}")
        base = f"/api/v1/users/{{id of {value}}}"
        operation = "unsuspend" if phase == "revert" else "suspend"
        note = "suspend only an ACTIVE user; unsuspend only what soar suspended"
    else:
        find = Call("GET", "/api/v1/apps", params={"q": value, "limit": "200"})
        base = f"/api/v1/apps/{{id of {value}}}"
        operation = "activate" if phase == "revert" else "deactivate"
        note = "deactivate only an ACTIVE app; activate only what soar deactivated"
    first = Call("GET", base) if phase == "revert" else find
    return [first, Call("POST", f"{base}/lifecycle/{operation}")], note
