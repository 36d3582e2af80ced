"""Kubernetes API-server audit events (``audit.k8s.io`` Event, and GKE's Cloud Logging shape) to ECS."""

from __future__ import annotations

import json
import re
from typing import Any

from soar.errors import NormalisationError
from soar.telemetry.normalisers import kubernetes_aks as aks
from soar.telemetry.normalisers._util import (
    as_str,
    dedupe,
    drop_none,
    event_time,
    ip_or_none,
    mark_time_ingested,
    outcome_from_status,
    parse_json_object,
    timestamp,
    typed,
)
from soar.telemetry.normalisers.kubernetes_secrets import (
    GCP_NAMES,
    REDACTED,
    may_hold_secrets,
    redact_raw,
    redact_secrets,
)
from soar.telemetry.sources import SOURCES, Source

_SPEC = SOURCES[Source.KUBERNETES]
__all__ = ["REDACTED", "normalise", "redact_raw"]

# ECS event.type per audit verb.
_VERB_TYPES: dict[str, str] = {
    "create": "creation",
    "delete": "deletion",
    "deletecollection": "deletion",
    "update": "change",
    "patch": "change",
    "get": "access",
    "list": "access",
    "watch": "access",
}
# Resources whose changes are identity and access management.
_IAM_RESOURCES = frozenset(
    {
        "roles",
        "clusterroles",
        "rolebindings",
        "clusterrolebindings",
        "serviceaccounts",
        "certificatesigningrequests",
    }
)
# gRPC status codes of GKE audit entries as the HTTP status the API server answered.
_GRPC_HTTP: dict[int, int] = {0: 200, 3: 400, 5: 404, 6: 409, 7: 403, 9: 400, 10: 409, 16: 401}
# event.type per (verb, authorization decision), for the verbs and decisions of the API server.
_TYPES: dict[tuple[str | None, str | None], tuple[str, ...]] = {}
# RFC 3339 UTC times with at least milliseconds (the API server writes microseconds): the ECS form is
# their first 23 characters and a ``Z``.
_VERSION = re.compile(r"v\d+(?:(?:alpha|beta)\d+)?\Z")


def normalise(raw: str) -> dict[str, Any]:
    """Turn one audit log line into an ECS document.

    Args:
        raw: one JSON object: an ``audit.k8s.io`` Event, or a GKE Cloud Logging entry with a
            ``protoPayload`` from ``k8s.io``.

    Returns:
        The ECS document; the native event is kept whole under ``kubernetes.audit``, except Secret
        values: those are ``[REDACTED]`` there and in ``event.original``, listed in ``soar.redacted``.

    Raises:
        NormalisationError: not JSON, not an audit event, no timestamp, or a field of the wrong type.
    """
    entry = parse_json_object(raw)
    native, extra = entry, dict[str, Any]()
    if "protoPayload" in entry:
        native, extra = _from_gcp(entry)  # requestObject/responseObject are the payload's own objects
    elif aks.is_aks(entry):
        native, extra = aks.from_aks(entry)
    redacted = redact_secrets(native) if may_hold_secrets(raw) else []
    if redacted:  # the parse of raw, redacted in place: event.original stays valid JSON, minus the values
        if aks.is_aks(entry):
            aks.rewrap(entry, native)
        raw = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    kind = native.get("kind")
    verb = typed(native, "verb", str)
    if kind is not None and kind != "Event":
        raise NormalisationError(f"not an audit Event: kind {_short(kind)}", field="kind")
    if kind is None and not verb:  # trimmed events keep at least one of the two
        raise NormalisationError("neither kind Event nor a verb: not an audit event", field="verb")
    doc = _document(native, verb, raw, entry)  # only the values present: no drop_none pass needed
    if extra:  # envelope fields, pruned as they were merged (the GKE payload loses its nulls)
        for key, value in extra.items():
            doc.setdefault(key, {}).update(value)
        doc = drop_none(doc)
    doc["kubernetes"] = {"audit": native}  # kept whole, nulls and all (Elasticsearch ignores nulls)
    out = doc
    if redacted:
        where = [f"kubernetes.audit.{key}" for key in redacted]
        where += [f"gcp.audit.{GCP_NAMES[key]}" for key in redacted if "gcp" in extra]
        out.setdefault("soar", {})["redacted"] = [*where, "event.original"]
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _document(ev: dict[str, Any], verb: str | None, raw: str, envelope: dict[str, Any]) -> dict[str, Any]:
    stamp_field = "stageTimestamp" if ev.get("stageTimestamp") is not None else "requestReceivedTimestamp"
    stamp, ingested = event_time(ev.get(stamp_field), stamp_field, envelope)
    received = ev.get("requestReceivedTimestamp")
    obj = _object(ev, "objectRef")
    status = _object(ev, "responseStatus")
    code = status.get("code")
    if code is not None and type(code) is not int:
        code = typed(status, "code", int, "responseStatus.code")
    if code is not None and not 0 <= code < 1000:
        raise NormalisationError(f"not an HTTP status: {code}", field="responseStatus.code")
    annotations = _object(ev, "annotations")
    resource = _text(obj, "resource", "objectRef.resource")
    doc: dict[str, Any] = {"@timestamp": stamp, "event": _event(ev, verb, resource, code, annotations, raw)}
    _put(doc, "url", "original", _text(ev, "requestURI"))
    if code is not None:
        doc["http"] = {"response": {"status_code": code}}
    _put(doc, "user_agent", "original", _text(ev, "userAgent"))
    doc["orchestrator"] = _orchestrator(obj, resource)
    if received is not None and stamp_field == "stageTimestamp":
        doc["event"]["start"] = timestamp(received, "requestReceivedTimestamp")
        doc["event"]["end"] = stamp
    _who(doc, ev)
    if ingested:
        mark_time_ingested(doc)
    return doc


def _object(obj: dict[str, Any], key: str, field: str | None = None) -> dict[str, Any]:
    """``typed(obj, key, dict, field) or {}``: an object member, empty when absent."""
    value = obj.get(key)
    if type(value) is dict:
        return value
    return typed(obj, key, dict, field) or {}


def _text(obj: dict[str, Any], key: str, field: str | None = None) -> str | None:
    """``typed(obj, key, str, field)``, its usual case first."""
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    return typed(obj, key, str, field)  # type: ignore[no-any-return]  # str or raises


def _put(doc: dict[str, Any], section: str, key: str, value: Any) -> None:
    if value is not None:
        doc[section] = {key: value}


def _event(
    ev: dict[str, Any],
    verb: str | None,
    resource: str | None,
    code: int | None,
    annotations: dict[str, Any],
    raw: str,
) -> dict[str, Any]:
    decision = annotations.get("authorization.k8s.io/decision")
    types = _TYPES.get((verb, decision if type(decision) is str else None)) or _types(verb, decision)
    reason = annotations.get("authorization.k8s.io/reason")
    message = (ev.get("responseStatus") or {}).get("message")
    reason = message if isinstance(message, str) and message else reason
    event: dict[str, Any] = {
        "kind": "event",
        "module": _SPEC.module,
        "dataset": _SPEC.dataset,
        "category": ["iam", "api"] if resource in _IAM_RESOURCES else ["api"],
        "type": list(types),
    }
    if verb is not None:
        event["action"] = verb
    event["outcome"] = outcome_from_status(code)
    audit_id = typed(ev, "auditID", str)
    if audit_id is not None:
        event["id"] = audit_id
    if isinstance(reason, str) and reason:
        event["reason"] = reason
    event["original"] = raw
    return event


def _types(verb: str | None, decision: Any) -> tuple[str, ...]:
    """ECS event.type: what the verb does, then the authorizer's decision when it is allow or forbid."""
    types = [_VERB_TYPES.get(verb or "", "info")]
    if decision == "allow":
        types.append("allowed")
    elif decision == "forbid":
        types.append("denied")
    return tuple(types)


def _orchestrator(obj: dict[str, Any], resource: str | None) -> dict[str, Any]:
    subresource = _text(obj, "subresource", "objectRef.subresource")
    out: dict[str, Any] = {"type": "kubernetes"}
    namespace = _text(obj, "namespace", "objectRef.namespace")
    if namespace is not None:
        out["namespace"] = namespace
    api_version = _text(obj, "apiVersion", "objectRef.apiVersion")
    if api_version is not None:
        out["api_version"] = api_version
    found: dict[str, Any] = {}
    kind = f"{resource}/{subresource}" if resource and subresource else resource
    if kind is not None:
        found["type"] = kind
    name = _text(obj, "name", "objectRef.name")
    if name is not None:
        found["name"] = name
    if subresource and resource is not None:
        found["parent"] = {"type": resource}
    if found:
        out["resource"] = found
    return out


def _who(doc: dict[str, Any], ev: dict[str, Any]) -> None:
    """``user``, ``source`` and ``related``, as drop_none would leave them."""
    user = _object(ev, "user")
    name = _text(user, "username", "user.username")
    groups = user.get("groups")
    if groups is not None and type(groups) is not list:
        groups = typed(user, "groups", list, "user.groups")
    imp = _object(ev, "impersonatedUser")
    imp_name = _text(imp, "username", "impersonatedUser.username")
    sources = ev.get("sourceIPs")
    if sources is not None and type(sources) is not list:
        sources = typed(ev, "sourceIPs", list)
    ips = []
    for value in sources or ():  # a loop, not a comprehension: that is a call of its own before 3.12
        ip = ip_or_none(value)
        if ip:
            ips.append(ip)
    uid = _text(user, "uid", "user.uid")
    found: dict[str, Any] = {} if name is None else {"name": name}
    if uid is not None:
        found["id"] = uid
    group_names = [g for g in groups if isinstance(g, str)] if groups else None
    if group_names:
        found["group"] = {"name": group_names}
    imp_uid = _text(imp, "uid", "impersonatedUser.uid")
    effective: dict[str, Any] = {} if imp_name is None else {"name": imp_name}
    if imp_uid is not None:
        effective["id"] = imp_uid
    if effective:
        found["effective"] = effective
    if found:
        doc["user"] = found
    related: dict[str, Any] = {}
    if ips:  # canonical addresses: non-empty strings, so dedupe is dict.fromkeys
        doc["source"] = {"ip": ips[0]}
        related["ip"] = list(dict.fromkeys(ips))
    users = dedupe((name, imp_name)) if imp_name else ([name] if name else None)
    if users:
        related["user"] = users
    if related:
        doc["related"] = related


def _from_gcp(entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A GKE audit entry from Cloud Logging rewritten as the ``audit.k8s.io`` Event it describes."""
    proto = typed(entry, "protoPayload", dict) or {}
    method = typed(proto, "methodName", str, "protoPayload.methodName")
    if not method:
        raise NormalisationError("GKE audit entry without a methodName", field="protoPayload.methodName")
    stamp = entry.get("timestamp", proto.get("timestamp"))
    meta = typed(proto, "requestMetadata", dict, "protoPayload.requestMetadata") or {}
    auth = typed(proto, "authenticationInfo", dict, "protoPayload.authenticationInfo") or {}
    verb, obj = _gcp_object(method, typed(proto, "resourceName", str, "protoPayload.resourceName"))
    event = {
        "kind": "Event",
        "verb": verb,
        "auditID": typed(entry, "insertId", str),
        "objectRef": obj,
        "user": {
            "username": typed(auth, "principalEmail", str, "protoPayload.authenticationInfo.principalEmail")
        },
        "sourceIPs": [caller]
        if isinstance(caller := meta.get("callerIp", meta.get("callerIP")), str)
        else None,
        "userAgent": meta.get("callerSuppliedUserAgent"),
        "requestURI": proto.get("requestURI"),
        "requestObject": typed(proto, "request", dict, "protoPayload.request"),
        "responseObject": typed(proto, "response", dict, "protoPayload.response"),
        "stageTimestamp": stamp,
    }
    status = typed(proto, "status", dict, "protoPayload.status")
    native = {k: v for k, v in event.items() if v is not None}
    if status is not None:  # a gRPC status; Cloud Logging leaves it out for most successes
        grpc = status.get("code", 0)
        native["responseStatus"] = {"code": _GRPC_HTTP.get(grpc, 500) if isinstance(grpc, int) else 500}
    return native, _gcp_context(entry, proto)


def _gcp_context(entry: dict[str, Any], proto: dict[str, Any]) -> dict[str, Any]:
    """The Cloud Logging envelope: the payload kept whole, and the cluster it came from."""
    labels = typed(typed(entry, "resource", dict) or {}, "labels", dict, "resource.labels") or {}
    return {
        "gcp": {"audit": proto},
        "cloud": {
            "provider": "gcp",
            "account": {"id": as_str(labels.get("project_id"))},
            "region": as_str(labels.get("location")),
        },
        "orchestrator": {"cluster": {"name": as_str(labels.get("cluster_name"))}},
    }


def _gcp_object(method: str, resource_name: str | None) -> tuple[str, dict[str, Any]]:
    """Verb and objectRef from ``io.k8s.<group>.<version>.<resource>[.<sub>].<verb>`` and the resource name."""
    parts = method.split(".")
    at = next((i for i in range(2, len(parts)) if _VERSION.match(parts[i])), None)
    if at is None or at + 2 >= len(parts):
        return parts[-1], {}
    group = ".".join(parts[2:at])
    resource = parts[at + 1]
    obj: dict[str, Any] = {
        "apiGroup": None if group == "core" else group,
        "apiVersion": parts[at],
        "resource": resource,
        "subresource": parts[at + 2] if at + 3 < len(parts) else None,
    }
    segs = (resource_name or "").split("/")
    if len(segs) > 1 and segs[0] != "core" and _VERSION.match(segs[1]):
        obj["apiGroup"] = segs[0]  # the full group name; the method name shortens it
    for i in range(len(segs) - 1):
        if segs[i] == "namespaces" and resource != "namespaces" and "namespace" not in obj:
            obj["namespace"] = segs[i + 1]
        if segs[i] == resource:
            obj["name"] = segs[i + 1]
    return parts[-1], {k: v for k, v in obj.items() if v is not None}


_TYPES.update(
    ((verb, decision), _types(verb, decision))
    for verb in (None, *_VERB_TYPES)
    for decision in (None, "allow", "forbid")
)
