"""Okta System Log events (the ``/api/v1/logs`` LogEvent) to ECS, native fields kept under ``okta.*``."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from soar.errors import NormalisationError
from soar.telemetry.normalisers._util import (
    as_str,
    dedupe,
    event_time,
    ip_or_none,
    mark_time_ingested,
    parse_json_object,
    present,
    typed,
)
from soar.telemetry.sources import SOURCES, Source

_SPEC = SOURCES[Source.OKTA]

# Okta severity -> ECS event.severity (ascending with urgency; ECS leaves the scale to the source).
SEVERITY: dict[str, int] = {"DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4}
_OUTCOMES: dict[str, str] = {
    "SUCCESS": "success",
    "ALLOW": "success",
    "FAILURE": "failure",
    "DENY": "failure",
}
# eventType prefix -> (event.category, event.type); the longest matching prefix wins.
_CATEGORIES: dict[str, tuple[list[str], list[str]]] = {
    "user.session.start": (["authentication", "session"], ["start"]),
    "user.session.end": (["authentication", "session"], ["end"]),
    "user.session.": (["session"], ["info"]),
    "user.authentication.": (["authentication"], ["start"]),
    "user.mfa.factor.": (["iam"], ["user", "change"]),
    "user.mfa.": (["authentication"], ["info"]),
    "policy.evaluate_sign_on": (["authentication"], ["info"]),
    "user.account.privilege.": (["iam"], ["admin", "change"]),
    "user.account.": (["iam"], ["user", "change"]),
    "user.lifecycle.create": (["iam"], ["user", "creation"]),
    "user.lifecycle.delete": (["iam"], ["user", "deletion"]),
    "user.lifecycle.": (["iam"], ["user", "change"]),
    "group.user_membership.": (["iam"], ["group", "change"]),
    "group.privilege.": (["iam"], ["admin", "change"]),
    "group.": (["iam"], ["group", "info"]),
    "app.oauth2.": (["authentication"], ["info"]),
    "application.": (["configuration"], ["change"]),
    "app.": (["configuration"], ["change"]),
    "policy.": (["configuration"], ["change"]),
    "system.api_token.": (["iam"], ["admin", "change"]),
    "system.": (["configuration"], ["info"]),
    "security.": (["intrusion_detection"], ["info"]),
}
_PREFIXES = sorted(_CATEGORIES, key=len, reverse=True)
# Native objects kept as they are (``flattened`` in the template): free-form or list-shaped.
_FREE_FORM = frozenset({"target", "debugData", "ipChain", "geolocation"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SNAKE_NAMES: dict[str, str] = {}  # camelCase -> snake_case, filled as keys are met


def normalise(raw: str) -> dict[str, Any]:
    """Turn one Okta System Log event (JSON) into an ECS document.

    Args:
        raw: one LogEvent as the System Log API returns it.

    Returns:
        The ECS document; the native event is kept under ``okta.*`` in snake_case as Elastic's
        okta integration names it.

    Raises:
        NormalisationError: not JSON, no ``published`` or ``eventType``, or a field of the wrong type.
    """
    ev = parse_json_object(raw)
    event_type = typed(ev, "eventType", str)
    if not event_type and not isinstance(ev.get("actor"), dict):  # trimmed events keep at least one
        raise NormalisationError(
            "neither an eventType nor an actor: not a System Log event", field="eventType"
        )
    stamp, ingested = event_time(ev.get("published"), "published", ev)
    actor = typed(ev, "actor", dict) or {}
    client = typed(ev, "client", dict) or {}
    targets = [t for t in typed(ev, "target", list) or [] if isinstance(t, dict)]
    doc: dict[str, Any] = {"@timestamp": stamp, "event": _event(ev, event_type or None, raw)}
    message = typed(ev, "displayMessage", str)
    if message is not None:
        doc["message"] = message
    _put(doc, "user", _user(actor, targets))
    _put(doc, "source", _source(client))
    _put(doc, "user_agent", _user_agent(client))
    transaction = as_str((typed(ev, "transaction", dict) or {}).get("id"))
    if transaction is not None:
        doc["transaction"] = {"id": transaction}
    request_id = as_str(_debug(ev).get("requestId"))
    if request_id is not None:
        doc["http"] = {"request": {"id": request_id}}
    _put(doc, "related", _related(ev, actor, client, targets))
    doc["okta"] = _namespace(ev)
    if ingested:
        mark_time_ingested(doc)
    return doc


def _put(doc: dict[str, Any], key: str, value: dict[str, Any]) -> None:
    if value:
        doc[key] = value


@lru_cache(maxsize=1024)
def _classify(event_type: str | None) -> tuple[list[str], list[str]]:
    """event.category and event.type of an eventType (copy before use: the lists are shared)."""
    return next(
        (_CATEGORIES[p] for p in _PREFIXES if event_type and event_type.startswith(p)), (["iam"], ["info"])
    )


def _event(ev: dict[str, Any], event_type: str | None, raw: str) -> dict[str, Any]:
    outcome = typed(ev, "outcome", dict) or {}
    result = as_str(outcome.get("result"))
    category, types = _classify(event_type)
    severity = ev.get("severity")
    event: dict[str, Any] = {
        "kind": "event",
        "module": _SPEC.module,
        "dataset": _SPEC.dataset,
        "category": list(category),
        "type": list(types),
    }
    if event_type is not None:
        event["action"] = event_type
    event["outcome"] = _OUTCOMES.get((result or "").upper(), "unknown")
    event.update(
        present(
            reason=as_str(outcome.get("reason")),
            id=as_str(ev.get("uuid")),
            severity=SEVERITY.get(severity) if isinstance(severity, str) else None,
        )
    )
    event["original"] = raw
    return event


def _namespace(ev: dict[str, Any]) -> dict[str, Any]:
    out = _snake_tree(ev)
    client = out.get("client")
    if isinstance(client, dict) and "ip_address" in client:
        # Elastic's okta.client.ip, an ip field: anything else stays in event.original only.
        client["ip"] = ip_or_none(client.pop("ip_address"))
    debug = out.get("debug_context")
    if isinstance(debug, dict) and not isinstance(debug.get("debug_data", {}), dict):
        del debug[
            "debug_data"
        ]  # "" or another scalar would break the flattened mapping; event.original has it
    return out


def _snake_tree(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    names = _SNAKE_NAMES
    for key, item in value.items():
        if item is None:
            continue
        if type(item) is dict and key not in _FREE_FORM:
            item = _snake_tree(item)
            if not item:
                continue
        name = names.get(key)
        out[_snake(key) if name is None else name] = item
    return out


def _snake(key: str) -> str:
    name = _CAMEL.sub("_", key).lower()
    if len(_SNAKE_NAMES) < 4096:  # bounded: keys are a small vocabulary, unknown ones are recomputed
        _SNAKE_NAMES[key] = name
    return name


def _debug(ev: dict[str, Any]) -> dict[str, Any]:
    data = (typed(ev, "debugContext", dict) or {}).get("debugData")
    return data if isinstance(data, dict) else {}


def _user(actor: dict[str, Any], targets: list[dict[str, Any]]) -> dict[str, Any]:
    alternate = as_str(actor.get("alternateId"))
    target = next((t for t in targets if t.get("type") == "User"), {})
    target_alt = as_str(target.get("alternateId"))
    group = next((t for t in targets if t.get("type") == "UserGroup"), {})
    user = present(
        name=alternate,
        id=as_str(actor.get("id")),
        full_name=as_str(actor.get("displayName")),
        email=alternate if alternate and "@" in alternate else None,
    )
    about = present(
        name=target_alt,
        id=as_str(target.get("id")),
        full_name=as_str(target.get("displayName")),
        email=target_alt if target_alt and "@" in target_alt else None,
    )
    if group:
        _put(about, "group", present(name=as_str(group.get("displayName")), id=as_str(group.get("id"))))
    _put(user, "target", about)
    return user


def _source(client: dict[str, Any]) -> dict[str, Any]:
    geo = typed(client, "geographicalContext", dict, "client.geographicalContext") or {}
    point = geo.get("geolocation")
    location = None
    if isinstance(point, dict) and all(type(point.get(k)) in (int, float) for k in ("lat", "lon")):
        lat, lon = point["lat"], point["lon"]
        location = {"lat": lat, "lon": lon} if -90 <= lat <= 90 and -180 <= lon <= 180 else None
    ip = ip_or_none(client.get("ipAddress"))
    source: dict[str, Any] = {} if ip is None else {"ip": ip}
    place = present(
        city_name=as_str(geo.get("city")),
        country_name=as_str(geo.get("country")),
        region_name=as_str(geo.get("state")),
        location=location,
    )
    _put(source, "geo", place)
    return source


def _user_agent(client: dict[str, Any]) -> dict[str, Any]:
    agent = typed(client, "userAgent", dict, "client.userAgent") or {}
    browser = as_str(agent.get("browser"))
    agent_os, device = as_str(agent.get("os")), as_str(client.get("device"))
    return present(
        original=as_str(agent.get("rawUserAgent")),
        name=browser if browser and browser != "UNKNOWN" else None,
        os=None if agent_os is None else {"name": agent_os},
        device=None if device is None else {"name": device},
    )


def _related(
    ev: dict[str, Any], actor: dict[str, Any], client: dict[str, Any], targets: list[dict[str, Any]]
) -> dict[str, Any]:
    request = typed(ev, "request", dict) or {}
    chain = typed(request, "ipChain", list, "request.ipChain") or []
    ips = [ip_or_none(client.get("ipAddress"))]
    ips += [ip_or_none(hop.get("ip")) for hop in chain if isinstance(hop, dict)]
    users = [actor.get("alternateId")]
    users += [t.get("alternateId") for t in targets if t.get("type") == "User"]
    return present(ip=dedupe(ips) or None, user=dedupe(users) or None)
