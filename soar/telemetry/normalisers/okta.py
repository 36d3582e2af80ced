"""Okta System Log events (the ``/api/v1/logs`` LogEvent) to ECS, native fields kept under ``okta.*``."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from soar.errors import NormalisationError
from soar.telemetry.normalisers._util import (
    as_str,
    event_time,
    ip_or_none,
    mark_time_ingested,
    parse_json_object,
    timestamp,
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
_NUMBERS = (int, float)  # JSON numbers (a bool is not one)


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
    event_type, actor, published = get("eventType"), get("actor"), get("published")
    if type(event_type) is not str:
        event_type = _event_type(ev)
    if not event_type and type(actor) is not dict:  # trimmed events keep at least one
        raise NormalisationError(
            "neither an eventType nor an actor: not a System Log event", field="eventType"
        )
    if type(published) is str and published[:1].isdigit():  # the usual RFC 3339 time
        stamp, ingested = timestamp(published, "published"), False
    else:
        stamp, ingested = event_time(published, "published", ev)
    client = get("client")
    if type(actor) is not dict:
        actor = _object(ev, "actor")
    if type(client) is not dict:
        client = _object(ev, "client")
    found = get("target")
    if found is not None and type(found) is not list:
        found = typed(ev, "target", list)
    targets = [t for t in found if isinstance(t, dict)] if found else []
    doc: dict[str, Any] = {"@timestamp": stamp, "event": _event(ev, event_type or None, raw)}
    message = get("displayMessage")
    if message is not None:
        doc["message"] = message if type(message) is str else typed(ev, "displayMessage", str)
    _add_ecs(doc, ev, actor, client, targets)
    if ingested:
        mark_time_ingested(doc)
    return doc


def _event_type(ev: dict[str, Any]) -> str | None:
    """``eventType`` when it is not a string: None when absent; anything else is an error."""
    return typed(ev, "eventType", str)  # type: ignore[no-any-return]  # None or raises


def _add_ecs(
    doc: dict[str, Any],
    ev: dict[str, Any],
    actor: dict[str, Any],
    client: dict[str, Any],
    targets: list[dict[str, Any]],
) -> None:
    """``user``, ``source``, ``user_agent``, ``transaction``, ``http``, ``related`` and ``okta``."""
    user = _user(actor, targets)
    if user:
        doc["user"] = user
    native_ip = client.get("ipAddress")
    ip = ip_or_none(native_ip)
    source = _source(client, ip)
    if source:
        doc["source"] = source
    agent = _user_agent(client)
    if agent:
        doc["user_agent"] = agent
    transaction = ev.get("transaction")
    transaction = as_str((transaction if type(transaction) is dict else _object(ev, "transaction")).get("id"))
    if transaction is not None:
        doc["transaction"] = {"id": transaction}
    request_id = as_str(_debug(ev).get("requestId"))
    if request_id is not None:
        doc["http"] = {"request": {"id": request_id}}
    related = _related(ev, actor, ip, targets)
    if related:
        doc["related"] = related
    doc["okta"] = _namespace(ev, native_ip, ip)


def _object(obj: dict[str, Any], key: str, field: str | None = None) -> dict[str, Any]:
    """``typed(obj, key, dict, field) or {}``: an object member, empty when absent."""
    value = obj.get(key)
    if type(value) is dict:
        return value
    return typed(obj, key, dict, field) or {}


@lru_cache(maxsize=1024)
def _classify(event_type: str | None) -> tuple[list[str], list[str]]:
    """event.category and event.type of an eventType (copy before use: the lists are shared)."""
    return next(
        (_CATEGORIES[p] for p in _PREFIXES if event_type and event_type.startswith(p)), (["iam"], ["info"])
    )


def _event(ev: dict[str, Any], event_type: str | None, raw: str) -> dict[str, Any]:
    outcome = ev.get("outcome")
    if type(outcome) is not dict:
        outcome = _object(ev, "outcome")
    result, reason, uuid = outcome.get("result"), outcome.get("reason"), ev.get("uuid")
    if type(result) is not str or type(uuid) is not str or (reason is not None and type(reason) is not str):
        result, reason, uuid = as_str(result), as_str(reason), as_str(uuid)
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
    if reason is not None:
        event["reason"] = reason
    if uuid is not None:
        event["id"] = uuid
    if type(severity) is str and (level := SEVERITY.get(severity)) is not None:
        event["severity"] = level
    event["original"] = raw
    return event


def _namespace(ev: dict[str, Any], native_ip: Any, ip: str | None) -> dict[str, Any]:
    """``okta.*``: the native event in snake_case; ``ip`` is ``ip_or_none(native_ip)``, already known."""
    out = _snake_tree(ev)
    client = out.get("client")
    if type(client) is dict and "ip_address" in client:
        # Elastic's okta.client.ip, an ip field: anything else stays in event.original only.
        value = client.pop("ip_address")
        client["ip"] = ip if value is native_ip else ip_or_none(value)
    debug = out.get("debug_context")
    if type(debug) is dict and type(debug.get("debug_data", debug)) is not dict:
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
        try:  # a known key: one subscript and no test (keys are a small vocabulary)
            out[names[key]] = item
        except KeyError:
            out[_snake(key)] = item
    return out


def _snake(key: str) -> str:
    name = _CAMEL.sub("_", key).lower()
    if len(_SNAKE_NAMES) < 4096:  # bounded: keys are a small vocabulary, unknown ones are recomputed
        _SNAKE_NAMES[key] = name
    return name


def _debug(ev: dict[str, Any]) -> dict[str, Any]:
    context = ev.get("debugContext")
    if type(context) is not dict:
        context = typed(ev, "debugContext", dict) or {}
    data = context.get("debugData")
    return data if type(data) is dict else {}


def _user(actor: dict[str, Any], targets: list[dict[str, Any]]) -> dict[str, Any]:
    user = _person(actor)
    if not targets:
        return user
    about, group = _first(targets, "User"), _first(targets, "UserGroup")
    about = _person(about) if about else {}
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


def _person(who: dict[str, Any]) -> dict[str, Any]:
    """``user.*`` of an actor or target: name, id, full name, and the name as email when it has an ``@``."""
    name, id_, full_name = who.get("alternateId"), who.get("id"), who.get("displayName")
    if type(name) is not str or type(id_) is not str or type(full_name) is not str:
        name, id_, full_name = as_str(name), as_str(id_), as_str(full_name)
    person: dict[str, Any] = {} if name is None else {"name": name}
    if id_ is not None:
        person["id"] = id_
    if full_name is not None:
        person["full_name"] = full_name
    if name and "@" in name:
        person["email"] = name
    return person


def _source(client: dict[str, Any], ip: str | None) -> dict[str, Any]:
    geo = client.get("geographicalContext")
    if type(geo) is not dict:
        geo = typed(client, "geographicalContext", dict, "client.geographicalContext") or {}
    point = geo.get("geolocation")
    location = None
    if type(point) is dict:
        lat: Any = point.get("lat")
        lon: Any = point.get("lon")
        if type(lat) in _NUMBERS and type(lon) in _NUMBERS and -90 <= lat <= 90 and -180 <= lon <= 180:
            location = {"lat": lat, "lon": lon}
    source: dict[str, Any] = {} if ip is None else {"ip": ip}
    city, country, state = geo.get("city"), geo.get("country"), geo.get("state")
    if type(city) is not str or type(country) is not str or type(state) is not str:
        city, country, state = as_str(city), as_str(country), as_str(state)
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
    browser, original = agent.get("browser"), agent.get("rawUserAgent")
    agent_os, device = agent.get("os"), client.get("device")
    if (
        type(browser) is not str
        or type(original) is not str
        or type(agent_os) is not str
        or type(device) is not str
    ):
        browser, original, agent_os, device = (
            as_str(browser),
            as_str(original),
            as_str(agent_os),
            as_str(device),
        )
    out: dict[str, Any] = {} if original is None else {"original": original}
    if browser and browser != "UNKNOWN":
        out["name"] = browser
    if agent_os is not None:
        out["os"] = {"name": agent_os}
    if device is not None:
        out["device"] = {"name": device}
    return out


def _related(
    ev: dict[str, Any], actor: dict[str, Any], ip: str | None, targets: list[dict[str, Any]]
) -> dict[str, Any]:
    """``related.ip`` and ``related.user``: unique non-empty values in first-seen order."""
    request = ev.get("request")
    if type(request) is not dict:
        request = _object(ev, "request")
    chain = request.get("ipChain")
    if chain is not None and type(chain) is not list:
        chain = typed(request, "ipChain", list, "request.ipChain")
    ips = [] if ip is None else [ip]
    for hop in chain or ():  # loops, not comprehensions: each of those is a call of its own before 3.12
        if type(hop) is dict and (found := ip_or_none(hop.get("ip"))) is not None and found not in ips:
            ips.append(found)  # canonical addresses: never empty
    name = actor.get("alternateId")
    users = [name] if type(name) is str and name else []
    for target in targets:
        if target.get("type") == "User":
            name = target.get("alternateId")
            if type(name) is str and name and name not in users:
                users.append(name)
    related: dict[str, Any] = {"ip": ips} if ips else {}
    if users:
        related["user"] = users
    return related
