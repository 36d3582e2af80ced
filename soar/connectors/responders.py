"""The one entry point of containment: which system serves an action, real calls or dry-run files."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from soar.connectors import keycloak, kubernetes, okta, webhook
from soar.connectors.base import Attempt, Call, DryRun, Phase, encode, safe_headers
from soar.connectors.keycloak import KeycloakConnector
from soar.connectors.kubernetes import KubernetesConnector
from soar.connectors.okta import OktaConnector
from soar.connectors.webhook import WebhookConnector
from soar.errors import ConnectorError
from soar.response.models import (
    TARGET_KINDS,
    ActionOutcome,
    ActionResult,
    ActionSpec,
    Entity,
    EntityKind,
    IdentityContext,
    Notification,
)
from soar.response.settings import ConnectorSettings, KubernetesSettings

IDENTITY_PROVIDERS = ("keycloak", "okta")
_IDP_KINDS = frozenset({EntityKind.USER, EntityKind.CLIENT})


class Connector(Protocol):
    """What a containment connector offers :class:`Responders`."""

    system: str

    async def apply(self, spec: ActionSpec, attempt: Attempt) -> ActionResult:
        """Apply an action, checking the state first."""
        ...

    async def revert(self, spec: ActionSpec, applied: ActionResult) -> ActionResult:
        """Revert an applied action, checking the state first."""
        ...

    async def aclose(self) -> None:
        """Close the HTTP client."""
        ...


class Responders:
    """Every configured connector behind one object, built once per worker from settings.

    A system that is not configured, or every system when ``settings.dry_run`` is set, writes the requests an
    action would send to ``dry_run_dir`` and returns ``DRY_RUN``; identity look-ups still read a configured IdP.

    Args:
        settings: The connectors' settings.
        dry_run_dir: Where dry-run files are written.
        transport: An httpx transport for every connector (tests pass ``httpx.MockTransport``).
    """

    def __init__(
        self,
        settings: ConnectorSettings,
        dry_run_dir: Path,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.dry = DryRun(dry_run_dir)
        timeout = settings.timeout
        self.keycloak = (
            KeycloakConnector(settings.keycloak, timeout, transport) if settings.keycloak else None
        )
        self.okta = OktaConnector(settings.okta, timeout, transport) if settings.okta else None
        self.kubernetes = (
            KubernetesConnector(settings.kubernetes, timeout, transport) if settings.kubernetes else None
        )
        self.webhook = WebhookConnector(settings.webhook, timeout, transport) if settings.webhook else None

    def _connector(self, system: str) -> Connector | None:
        found: dict[str, Connector | None] = {
            "keycloak": self.keycloak,
            "okta": self.okta,
            "kubernetes": self.kubernetes,
        }
        return None if self.settings.dry_run else found.get(system)

    def system_for(self, entity: Entity) -> str:
        """The system that acts on ``entity``: its IdP for users and clients, Kubernetes for the rest.

        Raises:
            ConnectorError: An unknown IdP, or none named while both are configured.
        """
        if entity.kind not in _IDP_KINDS:
            return "kubernetes"
        system = (entity.system or "").casefold()
        if system in IDENTITY_PROVIDERS:
            return system
        if system:
            raise ConnectorError(f"{entity.kind} {entity.value}: no connector for system {entity.system!r}")
        configured = [s for s in IDENTITY_PROVIDERS if getattr(self.settings, s) is not None]
        if len(configured) > 1:
            raise ConnectorError(
                f"{entity.kind} {entity.value}: no system named and both keycloak and okta set"
            )
        return configured[0] if configured else "keycloak"

    @staticmethod
    def check(spec: ActionSpec) -> None:
        """Refuse an action whose kind cannot target its entity.

        Raises:
            ConnectorError: The action does not fit the target (not retried).
        """
        if spec.target.kind not in TARGET_KINDS[spec.kind]:
            allowed = ", ".join(sorted(TARGET_KINDS[spec.kind]))
            raise ConnectorError(
                f"{spec.kind} cannot target {spec.target.kind} {spec.target.value!r} (only {allowed})"
            )

    async def apply(self, spec: ActionSpec, attempt: Attempt | None = None) -> ActionResult:
        """Apply ``spec`` (exactly once under retries: the connector checks the state before acting).

        Raises:
            ConnectorError: A refusal or bad target; ConnectorUnavailable when worth retrying.
        """
        self.check(spec)
        system = self.system_for(spec.target)
        connector = self._connector(system)
        if connector is None:
            return self._dry_run(spec, "apply", system)
        with _unexpected(system, spec.target.value):
            return await connector.apply(spec, attempt or Attempt())

    async def revert(self, spec: ActionSpec, applied: ActionResult) -> ActionResult:
        """Revert what applying ``spec`` did, as ``applied`` recorded it.

        Raises:
            ConnectorError: A refusal, a result of another action; ConnectorUnavailable when worth retrying.
        """
        self.check(spec)
        if applied.key != spec.key or applied.kind != spec.kind:
            raise ConnectorError(
                f"revert of {spec.kind} {spec.key}: the result is of {applied.kind} {applied.key}"
            )
        connector = None if applied.outcome is ActionOutcome.DRY_RUN else self._connector(applied.system)
        if connector is None:
            return self._dry_run(spec, "revert", applied.system)
        with _unexpected(applied.system, spec.target.value):
            return await connector.revert(spec, applied)

    async def identity(self, entity: Entity) -> IdentityContext | None:
        """What the user's IdP knows about them; None for other entities, an unset IdP or an unknown user.

        Raises:
            ConnectorError: The IdP failed or refused.
        """
        if entity.kind is not EntityKind.USER:
            return None
        system = self.system_for(entity)
        with _unexpected(system, entity.value):
            if system == "keycloak" and self.keycloak is not None:
                return await self.keycloak.identity(entity.value)
            if system == "okta" and self.okta is not None:
                return await self.okta.identity(entity.value)
        return None

    async def notify(self, notification: Notification) -> None:
        """Post ``notification`` to the webhook, or write it to ``<key>-notify.json`` in dry-run.

        Raises:
            ConnectorError: The receiver refused it; ConnectorUnavailable when worth retrying.
        """
        if self.webhook is not None and not self.settings.dry_run:
            await self.webhook.post(notification)
            return
        url = self.settings.webhook.url if self.settings.webhook else "{webhook.url}"
        secret = self.settings.webhook.secret if self.settings.webhook else None
        body = encode(webhook.payload(notification))
        sent = webhook.headers(notification, body, secret.get_secret_value() if secret else None)
        request = {
            "method": "POST",
            "url": url,
            "headers": safe_headers(sent),
            "body": webhook.payload(notification),
        }
        self.dry.dump(f"{notification.key}-notify", {"system": "webhook", "requests": [request]})

    def _dry_run(self, spec: ActionSpec, phase: Phase, system: str) -> ActionResult:
        why = "dry_run is set" if self.settings.dry_run else f"{system} is not configured"
        calls, note, base_url, headers = self._plan(spec, phase, system)
        return self.dry.write(
            spec, phase, system, base_url, calls, headers, note=f"{why}; {note}".rstrip("; ")
        )

    def _plan(
        self, spec: ActionSpec, phase: Phase, system: str
    ) -> tuple[list[Call], str, str, dict[str, Any]]:
        settings = self.settings
        if system == "keycloak":
            kc = settings.keycloak
            realm = kc.realm if kc else "{keycloak.realm}"
            token_realm = (kc.token_realm or kc.realm) if kc else realm
            client_id = kc.client_id if kc else "{keycloak.client_id}"
            calls, note = keycloak.plan(spec, phase, realm, token_realm, client_id)
            return calls, note, kc.url if kc else "{keycloak.url}", {"Authorization": "Bearer"}
        if system == "okta":
            calls, note = okta.plan(spec, phase)
            return (
                calls,
                note,
                settings.okta.url if settings.okta else "{okta.url}",
                {"Authorization": "SSWS"},
            )
        if system == "kubernetes":
            k8s = settings.kubernetes or KubernetesSettings(url="{kubernetes.url}", token=SecretStr("-"))
            calls, note = kubernetes.plan(spec, phase, k8s)
            return calls, note, k8s.url, {"Authorization": "Bearer"} if k8s.token else {}
        raise ConnectorError(f"{spec.kind} {spec.target.value}: no connector for system {system!r}")

    async def aclose(self) -> None:
        """Close every connector's HTTP client."""
        for connector in (self.keycloak, self.okta, self.kubernetes, self.webhook):
            if connector is not None:
                await connector.aclose()

    async def __aenter__(self) -> Responders:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


@contextmanager
def _unexpected(system: str, target: str) -> Iterator[None]:
    """A vendor answer of an unexpected shape (not JSON, a missing field) becomes a refusal, not a crash."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        raise ConnectorError(f"{system}: unexpected answer about {target}: {detail}") from exc
