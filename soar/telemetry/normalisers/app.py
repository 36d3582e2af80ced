"""The payment application's JSON log lines (soar's own format) to ECS, the payment facts under ``payment.*``."""

from __future__ import annotations

from typing import Any

from soar.errors import NormalisationError
from soar.telemetry.normalisers._util import (
    drop_none,
    finite_number,
    ip_or_none,
    parse_json_object,
    timestamp,
)
from soar.telemetry.sources import SOURCES, Source

_SPEC = SOURCES[Source.APP]
_OUTCOMES = {"success": "success", "failure": "failure", "pending": "unknown"}
# ECS has no payment category: every line is a request to a banking service, so category "web",
# and the type says what happened to the payment (ECS event.type allowed values).
_TYPES = {
    "payment.initiated": ["start"],
    "payment.authorized": ["allowed"],
    "payment.completed": ["end"],
    "payment.rejected": ["denied"],
    "payment.failed": ["error"],
    "consent.used": ["access"],
    "account.viewed": ["access"],
}
_INFO = ("info",)
_PLAIN = 10**15  # a number below this in size is kept as it is (see finite_number)
_STRINGS = (
    "level",
    "service",
    "transaction_id",
    "currency",
    "channel",
    "customer_id",
    "customer_country",
    "tpp_client_id",
    "consent_id",
    "outcome",
    "error_code",
    "user_id",
    "source_ip",
    "trace_id",
)
_KNOWN = frozenset(
    [
        *_STRINGS,
        "ts",
        "msg",
        "amount",
        "consent_scope",
        "mfa",
        "risk_score",
        "approval",
        "http_status",
        "latency_ms",
    ]
)


# (ECS object, its member, the string field) for the one-member objects.
_SIMPLE = (
    ("service", "name", "service"),
    ("transaction", "id", "transaction_id"),
    ("trace", "id", "trace_id"),
)
# The string members of payment.* between amount and consent_scope, in order.
_PAYMENT_TEXT = ("currency", "channel", "customer_id", "customer_country", "tpp_client_id", "consent_id")
_PAYMENT_KEYS = frozenset(
    [*_PAYMENT_TEXT, "transaction_id", "amount", "consent_scope", "outcome", "error_code", "mfa"]
)
_PAYMENT_KEYS |= {"risk_score", "approval", "latency_ms"}


def normalise(raw: str) -> dict[str, Any]:
    """Normalise one payment-application log line (a JSON object) to an ECS document.

    Args:
        raw: the line exactly as the application wrote it.

    Returns:
        The ECS document; ``event.original`` is ``raw`` unchanged.

    Raises:
        NormalisationError: the line breaks the documented schema; ``field`` names the culprit.
    """
    line = parse_json_object(raw)
    stamp = timestamp(line.get("ts"), "ts")
    msg = line.get("msg")
    if not isinstance(msg, str) or not msg:
        raise NormalisationError("missing or not a string", field="msg")
    s: dict[str, str | None] = {}
    for name in _STRINGS:
        value = line.get(name)
        s[name] = value if type(value) is str and value else None if value is None else _text(line, name)
    return _document(raw, line, msg, s, stamp)


def _document(
    raw: str, line: dict[str, Any], msg: str, s: dict[str, str | None], stamp: str
) -> dict[str, Any]:
    source_ip = ip_or_none(s["source_ip"])
    if s["source_ip"] and source_ip is None:
        raise NormalisationError(f"not an IP address: {s['source_ip'][:60]!r}", field="source_ip")
    latency, status = _latency_and_status(line)
    event: dict[str, Any] = {
        "kind": "event",
        "module": _SPEC.module,
        "dataset": _SPEC.dataset,
        "category": ["web"],
        "type": list(_TYPES.get(msg, _INFO)),
        "action": msg,
        "outcome": _OUTCOMES.get(s["outcome"] or "", "unknown"),
    }
    if latency is not None:
        event["duration"] = int(latency * 1_000_000)
    event["original"] = raw
    doc: dict[str, Any] = {"@timestamp": stamp, "event": event}
    level, user = s["level"], s["user_id"]
    if level:
        doc["log"] = {"level": level.lower()}
    for key, sub, name in _SIMPLE:
        if s[name] is not None:
            doc[key] = {sub: s[name]}
    if user is not None:
        doc["user"] = {"id": user, "name": user}
    source: dict[str, Any] = {} if source_ip is None else {"ip": source_ip}
    if s["customer_country"] is not None:
        source["geo"] = {"country_iso_code": s["customer_country"]}
    _put(doc, "source", source)
    _put(doc, "http", {} if status is None else {"response": {"status_code": status}})
    _put(doc, "error", {} if s["error_code"] is None else {"code": s["error_code"]})
    _put(doc, "related", _related(source_ip, user))
    _put(doc, "payment", _payment(line, s, latency))
    return doc


def _put(doc: dict[str, Any], key: str, value: dict[str, Any]) -> None:
    if value:
        doc[key] = value


def _related(ip: str | None, user: str | None) -> dict[str, Any]:
    related: dict[str, Any] = {} if not ip else {"ip": [ip]}
    if user:
        related["user"] = [user]
    return related


def _latency_and_status(line: dict[str, Any]) -> tuple[float | None, int | None]:
    latency = _number(line, "latency_ms")
    if latency is not None and not 0 <= latency < 1e12:
        raise NormalisationError(f"out of range: {latency}", field="latency_ms")
    status = line.get("http_status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 0 <= status < 1000
    ):
        raise NormalisationError(
            f"expected an HTTP status code, got {str(status)[:20]!r}", field="http_status"
        )
    return latency, status


def _payment(line: dict[str, Any], s: dict[str, str | None], latency: float | None) -> dict[str, Any]:
    risk = _number(line, "risk_score")
    if risk is not None and not 0 <= risk <= 1:
        raise NormalisationError(f"must be between 0 and 1, got {risk}", field="risk_score")
    mfa = line.get("mfa")
    if mfa is not None and not isinstance(mfa, bool):
        raise NormalisationError(f"expected a boolean, got {type(mfa).__name__}", field="mfa")
    amount = _number(line, "amount")
    scope = _strings(line.get("consent_scope"), "consent_scope")
    approval = _approval(line.get("approval"))
    payment: dict[str, Any] = {}
    for key, value in (
        ("transaction_id", s["transaction_id"]),
        ("amount", amount),
        ("currency", s["currency"]),
        ("channel", s["channel"]),
        ("customer_id", s["customer_id"]),
        ("customer_country", s["customer_country"]),
        ("tpp_client_id", s["tpp_client_id"]),
        ("consent_id", s["consent_id"]),
        ("consent_scope", None if scope is None else list(scope)),
        ("outcome", s["outcome"]),
        ("error_code", s["error_code"]),
        ("mfa", mfa),
        ("risk_score", risk),
        ("approval", approval),
        ("latency_ms", latency),
    ):
        if value is not None:
            payment[key] = value
    if not line.keys() <= _KNOWN:  # fields the schema does not name are kept as they are
        for key, value in line.items():
            if key not in _KNOWN and key not in _PAYMENT_KEYS and value is not None:
                payment.update(drop_none({key: value}))
    return payment


def _approval(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise NormalisationError(f"expected an object, got {type(value).__name__}", field="approval")
    required = value.get("required")
    if required is not None and not isinstance(required, bool):
        raise NormalisationError(
            f"expected a boolean, got {type(required).__name__}", field="approval.required"
        )
    approvers = _strings(value.get("approvers"), "approval.approvers") or []
    approval: dict[str, Any] = {} if required is None else {"required": required}
    approval["approvers"], approval["count"] = list(approvers), len(approvers)
    return approval


def _text(line: dict[str, Any], name: str) -> str | None:
    value = line.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    raise NormalisationError(f"expected a string, got {type(value).__name__}", field=name)


def _number(line: dict[str, Any], name: str) -> float | None:
    value = line.get(name)
    if value is None or ((type(value) is int or type(value) is float) and -_PLAIN < value < _PLAIN):
        return value  # absent, or what finite_number keeps
    return finite_number(value, name)


def _strings(value: Any, field: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise NormalisationError("expected a list of strings", field=field)
