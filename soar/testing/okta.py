"""A fake Okta org: SSWS tokens, users with Okta's lifecycle rules, sessions, groups, factors and apps."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import SecretStr

from soar.response.settings import OktaSettings
from soar.testing.server import FakeServer, Incoming, Reply


def _id(prefix: str, name: str) -> str:
    return prefix + hashlib.sha256(name.encode()).hexdigest()[:17]


def _error(status: int, code: str, summary: str) -> Reply:
    body = {
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": "fake",
        "errorCauses": [],
    }
    return Reply(status, body)


class FakeOkta(FakeServer):
    """The documented part of the Okta management API soar uses.

    Lifecycle follows Okta: suspend only an ACTIVE user, unsuspend only a SUSPENDED one (else 400 E0000001).
    Mutation counters: ``revoke_sessions`` (DELETE sessions), ``disable_user`` (suspend), ``enable_user``
    (unsuspend), ``disable_client`` / ``enable_client`` (app deactivate / activate); the target is the
    user's login or the app's label.

    Args:
        api_token: The token soar must send as ``Authorization: SSWS <token>``.
    """

    kind = "okta"
    config_keys = ("api_token",)

    def __init__(self, *, api_token: str = "fake-okta-token", **options: Any) -> None:
        super().__init__(**options)
        self.api_token = api_token
        self.users: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, int] = {}
        self.groups: dict[str, list[str]] = {}
        self.factors: dict[str, list[dict[str, Any]]] = {}
        self.apps: dict[str, dict[str, Any]] = {}
        user = "/api/v1/users/(?P<user>[^/]+)"
        app = "/api/v1/apps/(?P<app_id>[^/]+)"
        self.route("GET", user, self._get_user)
        self.route("DELETE", f"{user}/sessions", self._clear_sessions)
        self.route("POST", f"{user}/lifecycle/(?P<operation>suspend|unsuspend)", self._user_lifecycle)
        self.route("GET", f"{user}/groups", self._groups)
        self.route("GET", f"{user}/factors", self._factors)
        self.route("GET", "/api/v1/apps", self._find_apps)
        self.route("GET", app, self._get_app)
        self.route("POST", f"{app}/lifecycle/(?P<operation>activate|deactivate)", self._app_lifecycle)

    # -- seeding and reading state -------------------------------------------------------------------------
    def add_user(
        self,
        login: str,
        *,
        status: str = "ACTIVE",
        email: str | None = None,
        groups: Iterable[str] = ("Everyone",),
        factors: Iterable[str] = (),
        sessions: int = 0,
    ) -> str:
        """Add a user (``factors``: enrolled, active factor types such as ``token:software:totp``)."""
        user_id = _id("00u", login)
        with self.lock:
            self.users[user_id] = {
                "id": user_id,
                "status": status,
                "created": "2024-01-01T00:00:00.000Z",
                "statusChanged": None,
                "profile": {
                    "login": login,
                    "email": email or login,
                    "firstName": login.split("@")[0].title(),
                },
                "type": {"id": "oty-default"},
            }
            self.sessions[user_id] = sessions
            self.groups[user_id] = list(groups)
            self.factors[user_id] = [
                {"id": _id("fac", f"{login}:{f}"), "factorType": f, "provider": "OKTA", "status": "ACTIVE"}
                for f in factors
            ]
        return user_id

    def add_app(self, label: str, *, name: str = "oidc_client", status: str = "ACTIVE") -> str:
        """Add an app (an OAuth client of a partner); returns its id (``0oa...``)."""
        app_id = _id("0oa", f"{label}\x00{name}")
        with self.lock:
            self.apps[app_id] = {
                "id": app_id,
                "name": name,
                "label": label,
                "status": status,
                "signOnMode": "OPENID_CONNECT",
                "credentials": {"oauthClient": {"client_id": app_id}},
            }
        return app_id

    def seed(self, data: Mapping[str, Any]) -> None:
        """Users and apps from ``{"users": [{"login": ..., ...}], "apps": [{"label": ...}]}``."""
        for user in data.get("users") or []:
            self.add_user(**user)
        for app in data.get("apps") or []:
            self.add_app(**app)

    def user(self, login: str) -> dict[str, Any]:
        """A copy of a user (KeyError when unknown)."""
        with self.lock:
            return dict(self.users[self._user_id(login)])

    def app(self, label: str) -> dict[str, Any]:
        """A copy of an app (KeyError when unknown)."""
        with self.lock:
            return dict(next(a for a in self.apps.values() if a["label"] == label))

    def session_count(self, login: str) -> int:
        """How many sessions a user has."""
        with self.lock:
            return self.sessions[self._user_id(login)]

    @staticmethod
    def settings_from(url: str, config: Mapping[str, Any], **tls: Any) -> OktaSettings:
        """Settings pointing at a fake Okta at ``url`` configured with ``config``."""
        return OktaSettings(url=url, api_token=SecretStr(config.get("api_token", "fake-okta-token")), **tls)

    # -- routes ----------------------------------------------------------------------------------------
    def _user_id(self, id_or_login: str) -> str:
        if id_or_login in self.users:
            return id_or_login
        wanted = id_or_login.casefold()
        return next(i for i, u in self.users.items() if u["profile"]["login"].casefold() == wanted)

    def _find(self, id_or_login: str) -> dict[str, Any] | None:
        try:
            return self.users[self._user_id(id_or_login)]
        except StopIteration:
            return None

    def authorize(self, request: Incoming) -> Reply | None:
        """Every call needs ``Authorization: SSWS <api_token>``."""
        if request.headers.get("authorization") != f"SSWS {self.api_token}":
            return _error(401, "E0000011", "Invalid token provided")
        return None

    def _missing(self, what: str) -> Reply:
        return _error(404, "E0000007", f"Not found: Resource not found: {what} (User)")

    def _get_user(self, request: Incoming, user: str) -> Reply:
        found = self._find(user)
        return self._missing(user) if found is None else Reply(200, found)

    def _clear_sessions(self, request: Incoming, user: str) -> Reply:
        found = self._find(user)
        if found is None:
            return self._missing(user)
        self.sessions[found["id"]] = 0
        self.count("revoke_sessions", found["profile"]["login"])
        return Reply(204)

    def _user_lifecycle(self, request: Incoming, user: str, operation: str) -> Reply:
        found = self._find(user)
        if found is None:
            return self._missing(user)
        before, after = ("ACTIVE", "SUSPENDED") if operation == "suspend" else ("SUSPENDED", "ACTIVE")
        if found["status"] != before:
            return _error(
                400, "E0000001", f"Api validation failed: cannot {operation} a user that is not {before}"
            )
        found["status"] = after
        self.count("disable_user" if operation == "suspend" else "enable_user", found["profile"]["login"])
        return Reply(200, {})

    def _groups(self, request: Incoming, user: str) -> Reply:
        found = self._find(user)
        if found is None:
            return self._missing(user)
        groups = [
            {"id": _id("00g", g), "type": "OKTA_GROUP", "profile": {"name": g}}
            for g in self.groups[found["id"]]
        ]
        return Reply(200, groups)

    def _factors(self, request: Incoming, user: str) -> Reply:
        found = self._find(user)
        return self._missing(user) if found is None else Reply(200, self.factors[found["id"]])

    def _find_apps(self, request: Incoming) -> Reply:
        q = (request.arg("q") or "").casefold()
        found = [
            a for a in self.apps.values() if a["label"].casefold().startswith(q) or a["name"].startswith(q)
        ]
        return Reply(200, found[: int(request.arg("limit") or 20)])

    def _get_app(self, request: Incoming, app_id: str) -> Reply:
        app = self.apps.get(app_id)
        return (
            _error(404, "E0000007", f"Not found: Resource not found: {app_id} (AppInstance)")
            if app is None
            else Reply(200, app)
        )

    def _app_lifecycle(self, request: Incoming, app_id: str, operation: str) -> Reply:
        app = self.apps.get(app_id)
        if app is None:
            return _error(404, "E0000007", f"Not found: Resource not found: {app_id} (AppInstance)")
        app["status"] = "ACTIVE" if operation == "activate" else "INACTIVE"
        self.count("enable_client" if operation == "activate" else "disable_client", app["label"])
        return Reply(200, {})
