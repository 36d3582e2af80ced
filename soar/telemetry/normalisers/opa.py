"""OPA decision logs (plain, Envoy ext_authz and payment-authorisation inputs) to ECS under ``opa.*``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from soar.errors import NormalisationError
from soar.telemetry.normalisers._util import (
    as_str,
    drop_none,
    finite_number,
    get_path,
    ip_or_none,
    parse_json_object,
    timestamp,
    typed,
)
from soar.telemetry.normalisers.opa_free_form import free_form, may_nest_too_deep
from soar.telemetry.sources import SOURCES, Source

_SPEC = SOURCES[Source.OPA]
_MAX_DEPTH = 8  # unknown top-level keys, stringified for the dynamic ``opa`` object
_KNOWN = frozenset(
    [
        "decision_id",
        "path",
        "input",
        "result",
        "bundles",
        "labels",
        "timestamp",
        "time",
        "metrics",
        "requested_by",
        "erased",
        "masked",
        "nd_builtin_cache",
        "req_id",
    ]
)
_TRUTH = {True: True, False: False, "true": True, "false": False}
_PLAIN = 10**15  # a number below this in size is kept as it is (see finite_number)
_NESTED_OR_NULL = frozenset([dict, list, type(None)])
_FREE_FORM = ("input", "result", "labels", "nd_builtin_cache")
# The sections the decision's input fills in, nulls and all.
_INPUT_SECTIONS = ("source", "destination", "http", "url", "user_agent")


def normalise(raw: str) -> dict[str, Any]:
    """Normalise one OPA decision-log event (one JSON object per line) to an ECS document.

    Args:
        raw: the line exactly as OPA (or its log shipper) wrote it.

    Returns:
        The ECS document; ``event.original`` is ``raw`` unchanged.

    Raises:
        NormalisationError: the line is not a decision-log event; ``field`` names the culprit.
    """
    event = parse_json_object(raw)
    stamp = timestamp(event.get("timestamp", event.get("time")), "timestamp")
    opa = _opa_namespace(event)
    labels = typed(event, "labels", dict) or {}
    # Built with only the values present (no drop_none pass over the whole document): the sections the
    # input fills in may hold nulls, and are pruned one by one below.
    doc: dict[str, Any] = {
        "@timestamp": stamp,
        "event": _event(raw, opa["decision_id"], opa["allowed"]),
        "opa": opa,  # pruned below, once the input has added to it
        "observer": _observer(as_str(labels.get("version"))),
    }
    service_id = as_str(labels.get("id"))
    if service_id is not None:
        doc["service"] = {"id": service_id}
    raw_input = event.get("input")
    if isinstance(raw_input, dict):
        _from_ext_authz(doc, raw_input, opa)
        _from_payment_policy(opa, raw_input)
        _from_plain_input(doc, raw_input, opa)
    doc["opa"] = _pruned_opa(opa)
    for key in _INPUT_SECTIONS:
        if key in doc:
            section = drop_none(doc.pop(key))
            if section:
                doc[key] = section
    doc.update(_user(opa.get("subject"), opa.get("roles")))
    # The free-form objects go in after pruning, as they are: drop_none would remove their nulls.
    bound = may_nest_too_deep(raw)
    for key in _FREE_FORM:
        value = event.get(key)
        if value is not None:
            doc["opa"][key] = free_form(value, bound)
    return doc


def _observer(version: str | None) -> dict[str, Any]:
    if version is None:
        return {"product": "opa", "vendor": "Open Policy Agent"}
    return {"product": "opa", "vendor": "Open Policy Agent", "version": version}


def _user(subject: Any, roles: list[str] | None) -> dict[str, Any]:
    """``user`` and ``related`` from the decision's subject, as drop_none would leave them."""
    if subject is not None and type(subject) is not str:  # an unknown top-level "subject", stringified
        return drop_none({"user": {"name": subject, "roles": roles}, "related": {"user": [subject]}})
    user: dict[str, Any] = {}
    if subject is not None:
        user["name"] = subject
    if roles is not None:
        user["roles"] = list(roles)
    out: dict[str, Any] = {"user": user} if user else {}
    if subject:
        out["related"] = {"user": [subject]}
    return out


def _pruned_opa(opa: dict[str, Any]) -> dict[str, Any]:
    """``opa.*`` without nulls or empty objects; its lists hold only strings (and nulls, once stringified).

    An object or list that holds no null (nor, for an object, any object or list) is copied as it is.
    """
    out: dict[str, Any] = {}
    for key, value in opa.items():
        if value is None:
            continue
        kind = type(value)
        if kind is dict:
            value = dict(value) if _NESTED_OR_NULL.isdisjoint(map(type, value.values())) else drop_none(value)
            if not value:
                continue
        elif kind is list:
            value = [v for v in value if v is not None] if None in value else list(value)
        out[key] = value
    return out


def _opa_namespace(event: dict[str, Any]) -> dict[str, Any]:
    get = event.get
    decision_id, path, requested_by = get("decision_id"), get("path"), get("requested_by")
    req_id, erased, masked, metrics = get("req_id"), get("erased"), get("masked"), get("metrics")
    # The usual values (non-empty text, a plain number, nothing) are taken as they are; the helpers
    # decide, and word the error, for anything else.
    opa: dict[str, Any] = {
        "decision_id": decision_id
        if type(decision_id) is str and decision_id
        else _text(event, "decision_id", required=True),
        "path": path if type(path) is str and path else _text(event, "path"),
        "allowed": _allowed(get("result")),
        "requested_by": requested_by
        if type(requested_by) is str and requested_by
        else _text(event, "requested_by"),
        "req_id": req_id
        if type(req_id) is int and -_PLAIN < req_id < _PLAIN
        else _number(event, "req_id", "req_id"),
        "erased": None if erased is None else _strings(erased, "erased"),
        "masked": None if masked is None else _strings(masked, "masked"),
        "metrics": _metrics(metrics if type(metrics) is dict else typed(event, "metrics", dict)),
    }
    _add_bundles(opa, typed(event, "bundles", dict))
    if not event.keys() <= _KNOWN:
        for key, value in event.items():
            if key not in _KNOWN and key not in opa:
                opa[key] = _stringify(value, 1)
    return opa


def _event(raw: str, decision_id: str | None, allowed: bool | None) -> dict[str, Any]:
    kind = "info" if allowed is None else ("allowed" if allowed else "denied")
    return {
        "kind": "event",
        "module": _SPEC.module,
        "dataset": _SPEC.dataset,
        "category": ["iam"],
        "type": [kind],
        "action": "policy-decision",
        "outcome": "unknown" if allowed is None else ("success" if allowed else "failure"),
        "id": decision_id,
        "original": raw,
    }


def _text(obj: dict[str, Any], key: str, field: str | None = None, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if type(value) is str and value:
        return value
    if value is None or value == "":
        if required:
            raise NormalisationError("missing", field=field or key)
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise NormalisationError(f"expected a string, got {type(value).__name__}", field=field or key)


def _number(obj: dict[str, Any], key: str, field: str) -> float | None:
    value = obj.get(key)
    if (type(value) is int or type(value) is float) and -_PLAIN < value < _PLAIN:
        return value  # what finite_number keeps
    if isinstance(value, str):
        try:
            return finite_number(float(value), field)
        except ValueError:
            raise NormalisationError(f"expected a number, got {value[:40]!r}", field=field) from None
    return finite_number(value, field)


def _strings(value: Any, field: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if type(value) is list:
        for item in value:
            if type(item) is not str:
                break
        else:
            return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise NormalisationError("expected a list of strings", field=field)


def _allowed(result: Any) -> bool | None:
    """The decision as a bool: the result itself, or its ``allow`` / ``allowed`` member."""
    if isinstance(result, dict):
        result = result.get("allowed", result.get("allow"))
    if isinstance(result, bool | str):
        return _TRUTH.get(result)
    return None


def _stringify(value: Any, depth: int) -> Any:
    """A JSON value with every leaf as a string, for the unknown top-level keys kept as ``opa.<key>``.

    Those land in the dynamic ``opa`` object, where a leaf that is a number in one event and text in the
    next would be a mapping conflict.
    """
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        if depth >= _MAX_DEPTH:
            return f"<object nested deeper than {_MAX_DEPTH} levels>"
        return {str(k): _stringify(v, depth + 1) for k, v in value.items() if k != ""}
    if isinstance(value, list):
        return [v if isinstance(v, str) else _scalar_or_mark(v) for v in value]
    return str(value)


def _scalar_or_mark(value: Any) -> str | None:
    if isinstance(value, dict | list):
        return f"<{type(value).__name__}>"
    return _stringify(value, 0)  # type: ignore[no-any-return]  # scalars stringify to str or None


def _metrics(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    if metrics is None:
        return None
    kept: dict[str, Any] = {}
    for k, v in metrics.items():  # a loop, not a comprehension: that is a call of its own before 3.12
        if ((type(v) is int and -_PLAIN < v < _PLAIN) or _finite(v)) and k:
            kept[k] = v
    return kept


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _add_bundles(opa: dict[str, Any], bundles: dict[str, Any] | None) -> None:
    if not bundles:
        return
    names, revisions = [], []
    for name, info in bundles.items():
        names.append(name)
        if isinstance(info, dict) and isinstance(info.get("revision"), str):
            revisions.append(info["revision"])
    opa["bundle_names"] = names
    opa["bundle_revisions"] = revisions or None


def _socket(attributes: dict[str, Any], side: str) -> dict[str, Any]:
    """``attributes.<side>.address`` of an ext_authz CheckRequest, v3 (protojson) or v2 shape."""
    address = _path(attributes, side, "address", "socketAddress") or _path(
        attributes, side, "address", "Address", "SocketAddress"
    )
    if not isinstance(address, dict):
        return {}
    host, port = (
        address.get("address"),
        address.get("portValue", _path(address, "PortSpecifier", "PortValue")),
    )
    ok_port = type(port) is int and 0 <= port <= 65535
    return {
        "ip": ip_or_none(host),
        "address": host if isinstance(host, str) else None,
        "port": port if ok_port else None,
    }


def _path(obj: Any, *keys: str) -> Any:
    """``get_path(obj, ".".join(keys))`` for parsed JSON (objects are dicts), without a split."""
    for number, key in enumerate(keys):
        if type(obj) is not dict:
            return get_path(obj, ".".join(keys[number:])) if isinstance(obj, Mapping) else None
        obj = obj.get(key)
        if obj is None:
            return None
    return obj


def _from_ext_authz(doc: dict[str, Any], data: dict[str, Any], opa: dict[str, Any]) -> None:
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        return
    found = _path(attributes, "request", "http")
    http: dict[str, Any] = found if isinstance(found, dict) else {}
    headers: dict[str, Any] = http["headers"] if isinstance(http.get("headers"), dict) else {}
    principal = _path(attributes, "source", "principal")
    if isinstance(principal, str) and principal:
        opa["subject"] = principal
        opa["source_principal"] = principal
    doc["source"] = _socket(attributes, "source")
    doc["destination"] = _socket(attributes, "destination")
    _set_request(doc, _text(http, "method", "input.attributes.request.http.method"), http.get("path"))
    host = _text(http, "host", "input.attributes.request.http.host") or ""
    doc["url"]["domain"] = host.rpartition(":")[0] if host.count(":") == 1 else host or None
    doc["http"]["request"]["id"] = _text(headers, "x-request-id", "input.attributes.request.http.headers")
    doc["user_agent"] = {"original": _text(headers, "user-agent", "input.attributes.request.http.headers")}


def _set_request(doc: dict[str, Any], method: str | None, path: Any) -> None:
    if isinstance(path, list) and all(isinstance(p, str) for p in path):
        path = "/" + "/".join(path)
    if not isinstance(path, str):
        path = None
    doc["http"] = {"request": {"method": method}}
    doc["url"] = {
        "original": path,
        "path": path.partition("?")[0] if path else None,
        "query": path.partition("?")[2] or None if path else None,
    }


def _from_plain_input(doc: dict[str, Any], data: dict[str, Any], opa: dict[str, Any]) -> None:
    """Simple HTTP-API inputs such as ``{"method": "GET", "path": "/salary/bob", "user": "bob"}``."""
    if "attributes" in data:
        return
    method = data.get("method")
    if isinstance(method, str) or "path" in data:
        _set_request(doc, method if isinstance(method, str) else None, data.get("path"))
    for key in ("user", "subject"):
        if isinstance(data.get(key), str) and data[key]:
            opa.setdefault("subject", data[key])
    source_ip = ip_or_none(data.get("source_ip") or data.get("client_ip"))
    if source_ip:
        doc["source"] = {"ip": source_ip}


def _from_payment_policy(opa: dict[str, Any], data: dict[str, Any]) -> None:
    """Lift the facts of the bank's payment-authorisation input to typed ``opa.*`` fields.

    The usual values (non-empty text, a plain number, a boolean, a list of text) are taken as they
    are; the helpers decide, and word the error, for anything else.
    """
    subject, resource, context = data.get("subject"), data.get("resource"), data.get("context")
    if isinstance(subject, dict):
        opa["subject"] = _text_at(subject, "user", "input.subject.user")
        opa["mfa"] = _flag_at(subject, "mfa", "input.subject.mfa")
        opa["roles"] = _strings(subject.get("roles"), "input.subject.roles")
    if isinstance(data.get("action"), str):
        opa["action"] = data["action"]
    elif data.get("action") is not None:
        raise NormalisationError("expected a string", field="input.action")
    if isinstance(resource, dict):
        opa["amount"] = _number(resource, "amount", "input.resource.amount")
        opa["currency"] = _text_at(resource, "currency", "input.resource.currency")
        opa["resource_type"] = _text_at(resource, "type", "input.resource.type")
        opa["customer_id"] = _text_at(resource, "customer_id", "input.resource.customer_id")
    if isinstance(context, dict):
        opa["risk_score"] = _number(context, "risk_score", "input.context.risk_score")
        opa["dual_approval"] = _flag_at(context, "dual_approval", "input.context.dual_approval")
        opa["approvers"] = _strings(context.get("approvers"), "input.context.approvers")
        opa["channel"] = _text_at(context, "channel", "input.context.channel")


def _text_at(obj: dict[str, Any], key: str, field: str) -> str | None:
    value = obj.get(key)
    return value if type(value) is str and value else _text(obj, key, field)


def _flag_at(obj: dict[str, Any], key: str, field: str) -> bool | None:
    value = obj.get(key)
    return value if value is None or type(value) is bool else typed(obj, key, bool, field)
