"""What every connector shares: the httpx client from TLS options, error translation, dry-run files, attempts."""

from __future__ import annotations

import inspect
import json
import os
import re
import ssl
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import httpx

from soar.errors import ConfigError, ConnectorError, ConnectorUnavailable
from soar.response.models import ActionOutcome, ActionResult, ActionSpec
from soar.response.settings import TlsOptions

Phase = Literal["apply", "revert"]

# Statuses worth retrying: the server was busy or broken, not refusing this request.
_RETRYABLE = frozenset({408, 425, 429})
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-soar-signature"})
_DETAIL_KEYS = ("error_description", "errorSummary", "errorMessage", "message", "error")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def ssl_context(tls: TlsOptions, system: str) -> ssl.SSLContext | bool:
    """The TLS context of a connector: CA bundle, client certificate (mTLS), verification.

    Raises:
        ConfigError: A CA bundle or client certificate that cannot be loaded.
    """
    if not tls.verify:
        return False
    try:
        ctx = ssl.create_default_context(cafile=str(tls.ca_certs) if tls.ca_certs else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{system}.ca_certs: cannot load the CA bundle: {exc}") from None
    if tls.client_cert is not None:
        key = str(tls.client_key) if tls.client_key else None
        try:
            ctx.load_cert_chain(str(tls.client_cert), key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{system}.client_cert: cannot load the client certificate: {exc}") from None
    return ctx


def build_client(
    system: str,
    base_url: str,
    tls: TlsOptions,
    timeout: float,
    *,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An httpx client for one external system (the transport is injected by tests)."""
    # Plain http has no TLS to verify; skipping the context saves loading the system CA store.
    secure = base_url.lower().startswith("https://")
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        verify=ssl_context(tls, system) if secure else False,
        timeout=timeout,
        headers=dict(headers or {}),
        transport=transport,
        follow_redirects=False,
    )


@dataclass(frozen=True)
class Call:
    """One request, made or planned: method, path under the system's base URL, query, JSON body."""

    method: str
    path: str
    params: Mapping[str, str] | None = None
    body: Any = None
    content_type: str = "application/json"
    shown: str | None = None  # what messages show instead of the path (a webhook URL may hold a secret)
    anonymous: bool = False  # sent without the Authorization header (a token request)

    @property
    def line(self) -> str:
        """``METHOD path``, as recorded in :attr:`ActionResult.requests`."""
        return f"{self.method} {self.shown or self.path}"

    def url(self, base_url: str) -> str:
        """The full URL under ``base_url``."""
        query = f"?{urlencode(self.params)}" if self.params else ""
        return f"{base_url.rstrip('/')}{self.path}{query}"


class Http:
    """One system's client: sends calls, records them in a trace, translates failures to ConnectorError.

    Args:
        system: The system's name, the first word of every error message.
        client: The httpx client (base URL, TLS, default headers).
        secrets: Values that must never appear in an error message (tokens, passwords).
    """

    def __init__(self, system: str, client: httpx.AsyncClient, secrets: Iterable[str] = ()) -> None:
        self.system = system
        self.client = client
        self.secrets = [s for s in secrets if s]

    async def send(
        self,
        call: Call,
        trace: list[str],
        *,
        headers: Mapping[str, str] | None = None,
        allow: Collection[int] = (),
        form: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send one call; a status in ``allow`` or below 400 is returned, anything else raised.

        ``form`` sends a form body, ``content`` raw bytes; otherwise the call's JSON body is sent.

        Raises:
            ConnectorUnavailable: Not reachable, timed out, rate-limited, 5xx.
            ConnectorError: Any other error status (a refusal: not retried).
        """
        trace.append(call.line)
        sent = dict(headers or {})
        if call.body is not None:
            content = encode(call.body)
            sent["Content-Type"] = call.content_type
        try:
            response = await self.client.request(
                call.method, call.path, params=call.params, content=content, data=form, headers=sent
            )
        except httpx.TimeoutException:
            raise ConnectorUnavailable(f"{self.system}: {call.line}: timed out") from None
        except (httpx.HTTPError, ssl.SSLError) as exc:
            # Under TLS 1.3 a refused client certificate arrives as an alert after the handshake, when the
            # request is read back: httpcore then lets the bare ssl.SSLError through.
            reason = self.redact(str(exc) or type(exc).__name__)
            raise ConnectorUnavailable(f"{self.system}: {call.line}: not reachable: {reason}") from None
        if response.status_code < 400 or response.status_code in allow:
            return response
        raise self.error(call, response)

    def error(self, call: Call, response: httpx.Response) -> ConnectorError:
        """The error of a refused or failed call, in one line without secrets."""
        status = response.status_code
        text = f"{self.system}: {call.line}: {status} {response.reason_phrase}".rstrip()
        detail = self.redact(_detail(response))
        if detail and detail.casefold() != response.reason_phrase.casefold():
            text = f"{text}: {detail}"
        kind = ConnectorUnavailable if status >= 500 or status in _RETRYABLE else ConnectorError
        return kind(text)

    def redact(self, text: str) -> str:
        """``text`` on one line, with every known secret replaced."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return " ".join(text.split())[:200]

    def refuse(self, call: Call, reason: str) -> ConnectorError:
        """A business refusal found by soar itself (not found, wrong state): not retried."""
        return ConnectorError(f"{self.system}: {call.line}: {reason}")

    async def aclose(self) -> None:
        """Close the underlying client."""
        await self.client.aclose()


def encode(body: Any) -> bytes:
    """The bytes a JSON body is sent as (a webhook signs exactly these)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _detail(response: httpx.Response) -> str:
    """The vendor's short explanation from an error body (Keycloak, Okta, Kubernetes Status)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    for key in _DETAIL_KEYS:
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as a dry-run file shows them: secret values replaced by a placeholder."""
    return {k: "<redacted>" if k.lower() in _SECRET_HEADERS else v for k, v in headers.items()}


@dataclass
class Attempt:
    """What links retries of one activity: the undo an earlier attempt recorded just before it changed anything.

    A retry that finds the target already in the wanted state cannot tell on its own whether soar made it so
    (in an attempt killed before it could report) or it was so before; ``previous`` tells it.

    Attributes:
        previous: The undo recorded by an earlier attempt of the same action, if any.
        record: Called with the undo just before the first change (Temporal: a heartbeat, awaited until the
            server has stored it); a coroutine is awaited before the change is sent.
    """

    previous: dict[str, Any] | None = None
    record: Callable[[dict[str, Any]], Awaitable[None] | None] | None = None

    async def before_change(self, undo: dict[str, Any]) -> None:
        """Record ``undo`` before a change is sent, so a retry knows the state before soar acted."""
        if self.record is not None:
            stored = self.record(undo)
            if inspect.isawaitable(stored):
                await stored


def result(
    spec: ActionSpec,
    outcome: ActionOutcome,
    system: str,
    detail: str,
    trace: list[str],
    undo: dict[str, Any] | None = None,
) -> ActionResult:
    """An :class:`ActionResult` of ``spec``."""
    return ActionResult(
        key=spec.key,
        kind=spec.kind,
        outcome=outcome,
        system=system,
        detail=detail,
        requests=list(trace),
        undo=undo or {},
    )


@dataclass
class DryRun:
    """Writes the requests an action would send to ``<directory>/<key>-<phase>.json`` instead of sending them."""

    directory: Path

    def write(
        self,
        spec: ActionSpec,
        phase: Phase,
        system: str,
        base_url: str,
        calls: list[Call],
        headers: Mapping[str, str],
        note: str = "",
    ) -> ActionResult:
        """Write the planned calls of one action and return its ``DRY_RUN`` result.

        Raises:
            ConnectorError: The directory cannot be written.
        """
        document = {
            "phase": phase,
            "system": system,
            "action": str(spec.kind),
            "key": spec.key,
            "incident_id": spec.incident_id,
            "target": spec.target.model_dump(mode="json"),
            "reason": spec.reason,
            "requested_by": spec.requested_by,
            "note": note,
            "requests": [_request(call, base_url, headers) for call in calls],
        }
        path = self.dump(f"{spec.key}-{phase}", document)
        outcome = ActionResult(
            key=spec.key,
            kind=spec.kind,
            outcome=ActionOutcome.DRY_RUN,
            system=system,
            detail=f"dry run: {len(calls)} request(s) written to {path.name}",
            requests=[call.line for call in calls],
            dry_run_file=str(path),
        )
        return outcome

    def dump(self, name: str, document: Mapping[str, Any]) -> Path:
        """Write ``document`` as ``<name>.json`` atomically (a reader never sees half a file)."""
        path = self.directory / f"{_SAFE_NAME.sub('_', name)}.json"
        tmp = path.with_suffix(".json.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise ConnectorError(f"dry run: cannot write {path}: {exc.strerror or exc}") from None
        return path


def _request(call: Call, base_url: str, headers: Mapping[str, str]) -> dict[str, Any]:
    sent = {k: v for k, v in headers.items() if not (call.anonymous and k.lower() == "authorization")}
    if call.body is not None:
        sent["Content-Type"] = call.content_type
    return {
        "method": call.method,
        "url": call.url(base_url),
        "headers": safe_headers(sent),
        "body": call.body,
    }


PRIVILEGED_HINTS = ("admin", "realm-management", "superuser", "root")


def privileged(names: Iterable[str]) -> bool:
    """Whether any group or role name marks an administrator (a coarse, documented heuristic)."""
    return any(hint in name.casefold() for name in names for hint in PRIVILEGED_HINTS)
