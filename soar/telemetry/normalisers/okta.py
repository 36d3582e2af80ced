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
    typed,
)
from soar.telemetry.sources import SOURCES, Source

_SPEC = SOURCES[Source.OKTA]
_MODULE, _DATASET = _SPEC.module, _SPEC.dataset

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
    get = ev.get
    event_type = get("eventType")
    if event_type is not None and type(event_type) is not str:
        event_type = typed(ev, "eventType", str)
    if not event_type and not isinstance(get("actor"), dict):  # trimmed events keep at least one
        raise NormalisationError(
            "neither an eventType nor an actor: not a System Log event", field="eventType"
        )
    stamp, ingested = event_time(get("published"), "published", ev)
    actor, client = _object(ev, "actor"), _object(ev, "client")
    found = get("target")
    if found is not None and type(found) is not list:
        found = typed(ev, "target", list)
    targets = [t for t in found if isinstance(t, dict)] if found else []
    doc: dict[str, Any] = {"@timestamp": stamp, "event": _event(ev, event_type or None, raw)}
    message = get("displayMessage")
    if message is not None:
        doc["message"] = message if type(message) is str else typed(ev, "displayMessage", str)
    user = _user(actor, targets)
    if user:
        doc["user"] = user
    source = _source(client)
    if source:
        doc["source"] = source
    agent = _user_agent(client)
    if agent:
        doc["user_agent"] = agent
    transaction = as_str(_object(ev, "transaction").get("id"))
    if transaction is not None:
        doc["transaction"] = {"id": transaction}
    request_id = as_str(_debug(ev).get("requestId"))
    if request_id is not None:
        doc["http"] = {"request": {"id": request_id}}
    related = _related(ev, actor, client, targets)
    if related:
        doc["related"] = related
    doc["okta"] = _namespace(ev)
    if ingested:
        mark_time_ingested(doc)
    return doc


def _object(obj: dict[str, Any], key: str, field: str | None = None) -> dict[str, Any]:
    """``typed(obj, key, dict, field) or {}``: an object member, empty when absent."""
    value = obj.get(key)
    if type(value) is dict:
        return value
    return typed(obj, key, dict, field) or {}


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
    outcome = _object(ev, "outcome")
    result = outcome.get("result")
    result = result if type(result) is str else as_str(result)
    category, types = _classify(event_type)
    severity = ev.get("severity")
    event: dict[str, Any] = {
        "kind": "event",
        "module": _MODULE,
        "dataset": _DATASET,
        "category": list(category),
        "type": list(types),
    }
    if event_type is not None:
        event["action"] = event_type
    event["outcome"] = _OUTCOMES.get(result or "") or _OUTCOMES.get((result or "").upper(), "unknown")
    reason, uuid = as_str(outcome.get("reason")), ev.get("uuid")
    if reason is not None:
        event["reason"] = reason
    uuid = uuid if type(uuid) is str else as_str(uuid)
    if uuid is not None:
        event["id"] = uuid
    if isinstance(severity, str) and (level := SEVERITY.get(severity)) is not None:
        event["severity"] = level
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
    target = _first(targets, "User")
    target_alt = as_str(target.get("alternateId"))
    group = _first(targets, "UserGroup")
    user = _person(alternate, as_str(actor.get("id")), as_str(actor.get("displayName")))
    about = _person(target_alt, as_str(target.get("id")), as_str(target.get("displayName")))
    if group:
        group_name, group_id = as_str(group.get("displayName")), as_str(group.get("id"))
        about_group = {} if group_name is None else {"name": group_name}
        if group_id is not None:
            about_group["id"] = group_id
        if about_group:
            about["group"] = about_group
    if about:
        user["target"] = about
    return user


def _first(targets: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    for target in targets:
        if target.get("type") == kind:
            return target
    return {}


def _person(name: str | None, id_: str | None, full_name: str | None) -> dict[str, Any]:
    """``present(name=, id=, full_name=, email=)``, the email being the name when it has an ``@``."""
    person: dict[str, Any] = {} if name is None else {"name": name}
    if id_ is not None:
        person["id"] = id_
    if full_name is not None:
        person["full_name"] = full_name
    if name and "@" in name:
        person["email"] = name
    return person


def _source(client: dict[str, Any]) -> dict[str, Any]:
    geo = client.get("geographicalContext")
    if type(geo) is not dict:
        geo = typed(client, "geographicalContext", dict, "client.geographicalContext") or {}
    point = geo.get("geolocation")
    location = None
    if isinstance(point, dict):
        lat: Any = point.get("lat")
        lon: Any = point.get("lon")
        if (
            type(lat) in (int, float)
            and type(lon) in (int, float)
            and -90 <= lat <= 90
            and -180 <= lon <= 180
        ):
            location = {"lat": lat, "lon": lon}
    ip = ip_or_none(client.get("ipAddress"))
    source: dict[str, Any] = {} if ip is None else {"ip": ip}
    city, country, state = as_str(geo.get("city")), as_str(geo.get("country")), as_str(geo.get("state"))
    place: dict[str, Any] = {} if city is None else {"city_name": city}
    if country is not None:
        place["country_name"] = country
    if state is not None:
        place["region_name"] = state
    if location is not None:
        place["location"] = location
    if place:
        source["geo"] = place
    return source


def _user_agent(client: dict[str, Any]) -> dict[str, Any]:
    agent = client.get("userAgent")
    if type(agent) is not dict:
        agent = typed(client, "userAgent", dict, "client.userAgent") or {}
    browser, original = as_str(agent.get("browser")), as_str(agent.get("rawUserAgent"))
    agent_os, device = as_str(agent.get("os")), as_str(client.get("device"))
    out: dict[str, Any] = {} if original is None else {"original": original}
    if browser and browser != "UNKNOWN":
        out["name"] = browser
    if agent_os is not None:
        out["os"] = {"name": agent_os}
    if device is not None:
        out["device"] = {"name": device}
    return out


def _related(
    ev: dict[str, Any], actor: dict[str, Any], client: dict[str, Any], targets: list[dict[str, Any]]
) -> dict[str, Any]:
    request = _object(ev, "request")
    chain = request.get("ipChain")
    if chain is not None and type(chain) is not list:
        chain = typed(request, "ipChain", list, "request.ipChain")
    ips = [ip_or_none(client.get("ipAddress"))]
    for hop in chain or ():  # loops, not comprehensions: each of those is a call of its own before 3.12
        if isinstance(hop, dict):
            ips.append(ip_or_none(hop.get("ip")))
    users = [actor.get("alternateId")]
    for target in targets:
        if target.get("type") == "User":
            users.append(target.get("alternateId"))
    related: dict[str, Any] = {}
    if found := dedupe(ips):
        related["ip"] = found
    if found := dedupe(users):
        related["user"] = found
    return related
