"""A fake Keycloak: client_credentials tokens and the Admin REST API's users, sessions, clients, groups, roles."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import SecretStr

from soar.response.settings import KeycloakSettings
from soar.testing.server import FakeServer, Incoming, Reply

_NOT_FOUND = {"user": "User not found", "client": "Could not find client"}


def _id(kind: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"keycloak:{kind}:{name}"))


class FakeKeycloak(FakeServer):
    """The documented part of Keycloak soar uses, for one realm.

    Mutation counters (``fake.mutations[(operation, target)]``): ``revoke_sessions`` (POST logout),
    ``disable_user`` / ``enable_user`` / ``update_user`` (PUT user, by the ``enabled`` it sends),
    ``disable_client`` / ``enable_client`` / ``update_client``; the target is the username or clientId.

    Args:
        realm: The realm whose users and clients it holds.
        token_realm: Where the token endpoint is (default: ``realm``).
        client_id: The service-account client soar authenticates as.
        client_secret: Its secret.
        token_lifetime: Seconds an access token lives.
        advertised_lifetime: The ``expires_in`` the token response claims (default: ``token_lifetime``).
    """

    kind = "keycloak"
    config_keys = ("realm", "token_realm", "client_id", "client_secret")

    def __init__(
        self,
        *,
        realm: str = "bank",
        token_realm: str | None = None,
        client_id: str = "soar",
        client_secret: str = "fake-keycloak-secret",
        token_lifetime: float = 300,
        advertised_lifetime: float | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.realm, self.token_realm = realm, token_realm
        self.client_id, self.client_secret = client_id, client_secret
        self.token_lifetime = token_lifetime
        self.advertised_lifetime = advertised_lifetime
        self.tokens: dict[str, float] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, list[dict[str, Any]]] = {}
        self.groups: dict[str, list[str]] = {}
        self.realm_roles: dict[str, list[str]] = {}
        self.client_roles: dict[str, dict[str, list[str]]] = {}
        self.credentials: dict[str, list[str]] = {}
        self.clients: dict[str, dict[str, Any]] = {}
        admin = f"/admin/realms/{realm}"
        user = f"{admin}/users/(?P<user_id>[^/]+)"
        self.route("POST", f"/realms/{token_realm or realm}/protocol/openid-connect/token", self._token)
        self.route("GET", f"{admin}/users", self._find_users)
        self.route("GET", user, self._get_user)
        self.route("PUT", user, self._put_user)
        self.route("GET", f"{user}/sessions", self._sessions)
        self.route("POST", f"{user}/logout", self._logout)
        self.route("GET", f"{user}/groups", self._groups)
        self.route("GET", f"{user}/role-mappings", self._role_mappings)
        self.route("GET", f"{user}/role-mappings/realm", self._realm_roles)
        self.route("GET", f"{user}/credentials", self._credentials)
        self.route("GET", f"{admin}/clients", self._find_clients)
        self.route("GET", f"{admin}/clients/(?P<client_id>[^/]+)", self._get_client)
        self.route("PUT", f"{admin}/clients/(?P<client_id>[^/]+)", self._put_client)

    # -- seeding and reading state -------------------------------------------------------------------------
    def add_user(
        self,
        username: str,
        *,
        enabled: bool = True,
        email: str | None = None,
        groups: Iterable[str] = (),
        roles: Iterable[str] = (),
        client_roles: Mapping[str, Iterable[str]] | None = None,
        sessions: int = 0,
        otp: bool = False,
        attributes: Mapping[str, list[str]] | None = None,
    ) -> str:
        """Add a user (Keycloak lower-cases usernames); returns its id."""
        name = username.lower()
        user_id = _id("user", name)
        with self.lock:
            self.users[user_id] = {
                "id": user_id,
                "username": name,
                "enabled": enabled,
                "email": email,
                "emailVerified": email is not None,
                "firstName": name.split("@")[0].title(),
                "lastName": "Example",
                "attributes": {k: list(v) for k, v in (attributes or {}).items()},
                "requiredActions": [],
                "totp": otp,
                "createdTimestamp": 1_700_000_000_000,
            }
            self.sessions[user_id] = [self._session(user_id, name, n) for n in range(sessions)]
            self.groups[user_id] = list(groups)
            self.realm_roles[user_id] = ["default-roles-" + self.realm, *roles]
            self.client_roles[user_id] = {c: list(r) for c, r in (client_roles or {}).items()}
            self.credentials[user_id] = ["password", *(["otp"] if otp else [])]
        return user_id

    def add_client(self, client_id: str, *, enabled: bool = True) -> str:
        """Add an OAuth client (e.g. a PSD2 TPP); returns its internal id."""
        internal = _id("client", client_id)
        with self.lock:
            self.clients[internal] = {
                "id": internal,
                "clientId": client_id,
                "enabled": enabled,
                "protocol": "openid-connect",
                "publicClient": False,
                "attributes": {"tpp": "true"},
                "redirectUris": [f"https://{client_id}.example/callback"],
            }
        return internal

    def add_session(self, username: str) -> None:
        """Sign a user in once more (a new session)."""
        with self.lock:
            user = self.user(username)
            found = self.sessions[user["id"]]
            found.append(self._session(user["id"], user["username"], len(found)))

    def seed(self, data: Mapping[str, Any]) -> None:
        """Users and clients from ``{"users": [{"username": ..., ...}], "clients": [{"client_id": ...}]}``."""
        for user in data.get("users") or []:
            self.add_user(**user)
        for client in data.get("clients") or []:
            self.add_client(**client)

    def user(self, username: str) -> dict[str, Any]:
        """A copy of a user's representation (KeyError when unknown)."""
        with self.lock:
            return dict(next(u for u in self.users.values() if u["username"] == username.lower()))

    def client(self, client_id: str) -> dict[str, Any]:
        """A copy of a client's representation (KeyError when unknown)."""
        with self.lock:
            return dict(next(c for c in self.clients.values() if c["clientId"] == client_id))

    def session_count(self, username: str) -> int:
        """How many sessions a user has."""
        with self.lock:
            return len(self.sessions[self.user(username)["id"]])

    def expire_tokens(self) -> None:
        """Invalidate every token issued so far (the next admin call gets 401)."""
        with self.lock:
            self.tokens.clear()

    @staticmethod
    def settings_from(url: str, config: Mapping[str, Any], **tls: Any) -> KeycloakSettings:
        """Settings pointing at a fake Keycloak at ``url`` configured with ``config``."""
        return KeycloakSettings(
            url=url,
            realm=config.get("realm", "bank"),
            token_realm=config.get("token_realm"),
            client_id=config.get("client_id", "soar"),
            client_secret=SecretStr(config.get("client_secret", "fake-keycloak-secret")),
            **tls,
        )

    # -- routes ----------------------------------------------------------------------------------------
    def _session(self, user_id: str, username: str, n: int) -> dict[str, Any]:
        start = int(time.time() * 1000)
        return {
            "id": _id("session", f"{user_id}:{n}:{start}"),
            "username": username,
            "userId": user_id,
            "ipAddress": f"203.0.113.{10 + n}",
            "start": start,
            "lastAccess": start,
            "clients": {},
        }

    def authorize(self, request: Incoming) -> Reply | None:
        """Admin calls need a live bearer token; the token endpoint checks client credentials."""
        if request.path.startswith("/realms/"):
            return None  # the token endpoint checks client credentials itself
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expiry = self.tokens.get(token)
        if scheme.lower() != "bearer" or expiry is None or expiry < time.monotonic():
            return Reply(401, {"error": "HTTP 401 Unauthorized"})
        return None

    def _token(self, request: Incoming) -> Reply:
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return Reply(
                400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"}
            )
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return Reply(
                401,
                {
                    "error": "unauthorized_client",
                    "error_description": "Invalid client or Invalid client credentials",
                },
            )
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.monotonic() + self.token_lifetime
        advertised = self.token_lifetime if self.advertised_lifetime is None else self.advertised_lifetime
        body = {"access_token": token, "expires_in": int(advertised), "token_type": "Bearer"}
        return Reply(200, body | {"refresh_expires_in": 0, "not-before-policy": 0, "scope": "profile email"})

    def _find_users(self, request: Incoming) -> Reply:
        exact = request.arg("exact") == "true"
        found = list(self.users.values())
        for attribute in ("username", "email"):
            wanted = (request.arg(attribute) or "").lower()
            if wanted:
                found = [
                    u
                    for u in found
                    if (str(u.get(attribute) or "").lower() == wanted)
                    or (not exact and wanted in str(u.get(attribute) or "").lower())
                ]
        return Reply(200, found)

    def _user_or_404(self, user_id: str) -> dict[str, Any] | Reply:
        user = self.users.get(user_id)
        return user if user is not None else Reply(404, {"error": _NOT_FOUND["user"]})

    def _get_user(self, request: Incoming, user_id: str) -> Reply:
        user = self._user_or_404(user_id)
        return user if isinstance(user, Reply) else Reply(200, user)

    def _put_user(self, request: Incoming, user_id: str) -> Reply:
        user = self._user_or_404(user_id)
        if isinstance(user, Reply):
            return user
        body = request.json()
        if not isinstance(body, dict):
            return Reply(400, {"error": "unknown_error"})
        body.pop("id", None)
        body.pop("username", None)  # renaming is not part of what soar does
        user.update(body)
        self.count(_toggle("user", body), user["username"])
        return Reply(204)

    def _sessions(self, request: Incoming, user_id: str) -> Reply:
        user = self._user_or_404(user_id)
        return user if isinstance(user, Reply) else Reply(200, self.sessions[user_id])

    def _logout(self, request: Incoming, user_id: str) -> Reply:
        user = self._user_or_404(user_id)
        if isinstance(user, Reply):
            return user
        self.sessions[user_id] = []
        self.count("revoke_sessions", user["username"])
        return Reply(204)

    def _groups(self, request: Incoming, user_id: str) -> Reply:
        if user_id not in self.users:
            return Reply(404, {"error": _NOT_FOUND["user"]})
        groups = [
            {"id": _id("group", g), "name": g.rsplit("/", 1)[-1], "path": g if g.startswith("/") else f"/{g}"}
            for g in self.groups[user_id]
        ]
        return Reply(200, groups)

    def _realm_roles(self, request: Incoming, user_id: str) -> Reply:
        if user_id not in self.users:
            return Reply(404, {"error": _NOT_FOUND["user"]})
        return Reply(
            200, [{"id": _id("role", r), "name": r, "composite": False} for r in self.realm_roles[user_id]]
        )

    def _role_mappings(self, request: Incoming, user_id: str) -> Reply:
        if user_id not in self.users:
            return Reply(404, {"error": _NOT_FOUND["user"]})
        realm = [{"id": _id("role", r), "name": r} for r in self.realm_roles[user_id]]
        clients = {
            client: {"id": _id("client", client), "client": client, "mappings": [{"name": r} for r in roles]}
            for client, roles in self.client_roles[user_id].items()
        }
        return Reply(200, {"realmMappings": realm, **({"clientMappings": clients} if clients else {})})

    def _credentials(self, request: Incoming, user_id: str) -> Reply:
        if user_id not in self.users:
            return Reply(404, {"error": _NOT_FOUND["user"]})
        return Reply(
            200, [{"id": _id("credential", f"{user_id}:{t}"), "type": t} for t in self.credentials[user_id]]
        )

    def _find_clients(self, request: Incoming) -> Reply:
        wanted = request.arg("clientId")
        found = [c for c in self.clients.values() if wanted is None or c["clientId"] == wanted]
        return Reply(200, found)

    def _get_client(self, request: Incoming, client_id: str) -> Reply:
        client = self.clients.get(client_id)
        return Reply(404, {"error": _NOT_FOUND["client"]}) if client is None else Reply(200, client)

    def _put_client(self, request: Incoming, client_id: str) -> Reply:
        client = self.clients.get(client_id)
        if client is None:
            return Reply(404, {"error": _NOT_FOUND["client"]})
        body = request.json()
        if not isinstance(body, dict) or body.get("clientId", client["clientId"]) != client["clientId"]:
            return Reply(400, {"error": "unknown_error"})
        body.pop("id", None)
        client.update(body)
        self.count(_toggle("client", body), client["clientId"])
        return Reply(204)


def _toggle(what: str, body: Mapping[str, Any]) -> str:
    if "enabled" not in body:
        return f"update_{what}"
    return f"{'enable' if body['enabled'] else 'disable'}_{what}"
