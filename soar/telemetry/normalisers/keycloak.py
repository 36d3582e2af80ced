"""Keycloak user and admin events (REST/JSON, JSON event-listener and jboss-logging lines) to ECS."""

from __future__ import annotations

import json
import re
from typing import Any

from soar.errors import NormalisationError
from soar.telemetry.normalisers._util import (
    as_str,
    dedupe,
    drop_none,
    ip_or_none,
    parse_json_object,
    present,
    timestamp,
    typed,
)
from soar.telemetry.sources import SOURCES, Source

_SPEC = SOURCES[Source.KEYCLOAK]

# Members of Keycloak's EventRepresentation / AdminEventRepresentation; anything else a listener
# writes at the top level belongs in ``details``, as in the REST representation.
_USER_KEYS = (
    "id",
    "time",
    "type",
    "realmId",
    "realmName",
    "clientId",
    "userId",
    "sessionId",
    "ipAddress",
    "error",
)
_ADMIN_KEYS = ("operationType", "resourceType", "resourcePath", "representation", "authDetails")
_KNOWN = frozenset(_USER_KEYS + _ADMIN_KEYS + ("details",))
# User event type -> (event.category, event.type); the ``_ERROR`` variants share their base type.
_USER_EVENTS: dict[str, tuple[list[str], list[str]]] = {
    "LOGIN": (["authentication", "session"], ["start"]),
    "LOGOUT": (["authentication", "session"], ["end"]),
    "REGISTER": (["iam"], ["user", "creation"]),
    "DELETE_ACCOUNT": (["iam"], ["user", "deletion"]),
    "IMPERSONATE": (["iam"], ["admin", "access"]),
}
_IAM_CHANGES = ("UPDATE_", "REMOVE_", "RESET_", "VERIFY_", "SEND_", "GRANT_", "REVOKE_", "UPDATE_CREDENTIAL")
_ADMIN_TYPES: dict[str, str] = {
    "CREATE": "creation",
    "UPDATE": "change",
    "DELETE": "deletion",
    "ACTION": "change",
}
_IAM_RESOURCES = frozenset(
    {
        "USER",
        "GROUP",
        "GROUP_MEMBERSHIP",
        "REALM_ROLE",
        "CLIENT_ROLE",
        "REALM_ROLE_MAPPING",
        "CLIENT_ROLE_MAPPING",
    }
)
# A server log line: optional date, time, level, [logger], (thread), then the event payload.
_LOG_LINE = re.compile(
    r"(?:(?P<date>\d{4}-\d{2}-\d{2})[ T])?(?P<time>\d{2}:\d{2}:\d{2})[,.](?P<ms>\d{1,9})\s+"
    r"(?P<level>[A-Z]+)\s+\[(?P<logger>[^\]]*)\]\s+(?:\((?P<thread>[^)]*)\)\s+)?(?P<payload>.*)\Z",
    re.DOTALL,
)
_NAMESPACE_KEYS = tuple(k for k in _USER_KEYS + _ADMIN_KEYS if k != "time")
# Members that must be scalars (``error`` is read with as_str, ``representation``/``authDetails`` are objects).
_STRING_KEYS = _USER_KEYS[:-1] + _ADMIN_KEYS[:3]
_CONTAINERS = frozenset([dict, list])
_EVENT_CONSTANTS = {"module": _SPEC.module, "dataset": _SPEC.dataset, "kind": "event"}
_KEY_VALUE = re.compile(r'\s*([A-Za-z_][\w.-]*)=(?:"((?:[^"\\]|\\.)*)"|([^,]*))\s*(?:,|\Z)')


def normalise(raw: str) -> dict[str, Any]:
    """Turn one Keycloak event line into an ECS document.

    Accepted: an EventRepresentation or AdminEventRepresentation as JSON (``time`` in epoch
    milliseconds), a Quarkus JSON log record whose ``message`` is a jboss-logging event, and a
    server log line (``yyyy-MM-dd HH:mm:ss,SSS LEVEL [org.keycloak.events] (thread) ...``, read as
    UTC) whose payload is ``key=value, ...`` or a JSON event after a prefix such as ``JSON_EVENT::``.

    Args:
        raw: the line as Keycloak (or its log handler) wrote it.

    Returns:
        The ECS document; the event is kept under ``keycloak.*`` with Keycloak's own names.

    Raises:
        NormalisationError: unreadable line, no timestamp, no event type, or a field of the wrong type.
    """
    event, stamp, stamp_field = _native(raw)
    if stamp is None:
        raise NormalisationError("Keycloak event without a time", field=stamp_field)
    when = timestamp(stamp, stamp_field)
    admin = "operationType" in event or "authDetails" in event or "resourcePath" in event
    if not admin and not typed(event, "type", str):
        raise NormalisationError("Keycloak event without a type or operationType", field="type")
    body = _admin(event) if admin else _user(event)
    body["@timestamp"] = when
    ecs_event = body["event"]
    ecs_event.update(_EVENT_CONSTANTS)
    ecs_event["original"] = raw
    event_id = as_str(event.get("id"))
    if event_id is not None:
        ecs_event["id"] = event_id
    namespace = drop_none(_namespace(event))
    if namespace:
        body["keycloak"] = namespace
    return body


def _native(raw: str) -> tuple[dict[str, Any], Any, str]:
    """The event as a dict, its raw timestamp and the name of the field that held it."""
    text = raw.strip()
    if text.startswith("{"):
        record = parse_json_object(text)
        message = record.get("message")
        if isinstance(message, str) and "loggerName" in record:  # Quarkus JSON log handler
            return _payload(message), record.get("timestamp"), "timestamp"
        return record, record.get("time"), "time"
    line = _LOG_LINE.match(text)
    if line is None:
        raise NormalisationError("neither JSON nor a Keycloak server log line", field="line")
    event = _payload(line["payload"])
    if isinstance(event.get("time"), int | float):
        return event, event["time"], "time"
    if line["date"] is None:
        return event, None, "timestamp"  # console lines carry only the time of day
    return event, f"{line['date']}T{line['time']}.{line['ms']}Z", "timestamp"


def _payload(text: str) -> dict[str, Any]:
    brace = text.find("{")
    if brace >= 0 and text.rstrip().endswith("}"):  # JSON after a listener prefix (JSON_EVENT::)
        return parse_json_object(text[brace:])
    pairs = {m[1]: (m[2] if m[2] is not None else m[3].strip()) for m in _KEY_VALUE.finditer(text)}
    pairs = {k: v for k, v in pairs.items() if v != "null"}  # jboss-logging prints absent members as null
    if "type" not in pairs and "operationType" not in pairs:
        raise NormalisationError("log message is not a Keycloak event", field="message")
    return pairs


def _user(ev: dict[str, Any]) -> dict[str, Any]:
    kind = typed(ev, "type", str) or ""
    error = as_str(ev.get("error"))
    base = kind.removesuffix("_ERROR")
    category, types = _USER_EVENTS.get(base) or (
        (["iam"], ["user", "change"]) if base.startswith(_IAM_CHANGES) else (["authentication"], ["info"])
    )
    failed = kind.endswith("_ERROR") or bool(error)
    details = _details(ev)
    name, email = as_str(details.get("username")), as_str(details.get("email"))
    user_id = as_str(ev.get("userId"))
    ip = ip_or_none(ev.get("ipAddress"))
    event = {
        "category": list(category),
        "type": list(types),
        "action": kind,
        "outcome": "failure" if failed else "success",
    }
    if error is not None:
        event["reason"] = error
    user: dict[str, Any] = {} if user_id is None else {"id": user_id}
    if name is not None:
        user["name"] = name
    if email is not None:
        user["email"] = email
    return _body(event, user, ip, None, dedupe([name, user_id]))


def _event(
    category: list[str], types: list[str], action: str, outcome: str, reason: str | None
) -> dict[str, Any]:
    event = {"category": category, "type": types, "action": action, "outcome": outcome}
    if reason is not None:
        event["reason"] = reason
    return event


def _body(
    event: dict[str, Any], user: dict[str, Any], ip: str | None, path: str | None, users: list[str]
) -> dict[str, Any]:
    """The ECS members shared by user and admin events, set only when present."""
    body: dict[str, Any] = {"event": event}
    if user:
        body["user"] = user
    if ip:
        body["source"] = {"ip": ip}
    if path:
        body["url"] = {"path": path}
    related: dict[str, Any] = {"ip": [ip]} if ip else {}
    if users:
        related["user"] = users
    if related:
        body["related"] = related
    return body


def _admin(ev: dict[str, Any]) -> dict[str, Any]:
    auth = typed(ev, "authDetails", dict) or {}
    operation = as_str(ev.get("operationType")) or "UNKNOWN"
    resource = as_str(ev.get("resourceType"))
    path = typed(ev, "resourcePath", str) or ""
    error = as_str(ev.get("error"))
    types = [_ADMIN_TYPES.get(operation, "info")]
    if resource in _IAM_RESOURCES:
        types.append(
            "admin" if resource and "ROLE" in resource else "user" if resource == "USER" else "group"
        )
    actor = as_str(auth.get("userId", ev.get("userId")))
    ip = ip_or_none(auth.get("ipAddress", ev.get("ipAddress")))
    target = path.split("/")[1] if path.startswith("users/") and "/" in path else None
    category = ["iam"] if resource in _IAM_RESOURCES else ["configuration"]
    event = _event(category, types, operation, "failure" if error else "success", error)
    user = present(id=actor, target=present(id=target, roles=_roles(ev.get("representation"))) or None)
    return _body(event, user, ip, path, dedupe([actor, target]))


def _roles(representation: Any) -> list[str] | None:
    if isinstance(representation, str):
        representation = _json_or_none(representation)
    if not isinstance(representation, list):
        return None
    return dedupe(r.get("name") for r in representation if isinstance(r, dict)) or None


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _details(ev: dict[str, Any]) -> dict[str, Any]:
    details = typed(ev, "details", dict) or {}
    if ev.keys() <= _KNOWN:  # the usual case: nothing at the top level beyond the representation
        return details
    extra = {k: v for k, v in ev.items() if k not in _KNOWN}
    return {**extra, **details}


def _namespace(ev: dict[str, Any]) -> dict[str, Any]:
    out = {k: ev[k] for k in _NAMESPACE_KEYS if k in ev}
    if not _CONTAINERS.isdisjoint(map(type, out.values())):  # an object or array somewhere: where?
        for key in _STRING_KEYS:
            if type(out.get(key)) in (dict, list):
                raise NormalisationError(f"expected a string, got {type(out[key]).__name__}", field=key)
    if isinstance(ev.get("time"), int | float):
        out["time"] = ev["time"]
    representation = out.pop("representation", None)
    if isinstance(representation, str):
        representation = _json_or_none(representation) if representation else None
    if isinstance(representation, dict):
        out["representation"] = representation
    elif isinstance(representation, list):
        out["representation"] = {"items": representation}  # flattened needs an object at the top
    out["details"] = _details(ev) or None
    return out
