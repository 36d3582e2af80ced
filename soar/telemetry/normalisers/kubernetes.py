"""Kubernetes API-server audit events (``audit.k8s.io`` Event, and GKE's Cloud Logging shape) to ECS."""

from __future__ import annotations

import hashlib
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
    iso,
    mark_time_ingested,
    outcome_from_status,
    parse_json_object,
    parse_time,
    typed,
)
from soar.telemetry.sources import SOURCES, Source

_SPEC = SOURCES[Source.KUBERNETES]

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
_VERSION = re.compile(r"v\d+(?:(?:alpha|beta)\d+)?\Z")
# Secret values never reach a document: what replaces each one, and the annotation in which kubectl keeps
# the whole applied Secret as JSON.
REDACTED = "[REDACTED]"
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# The audit Event's objects and the members of GKE's protoPayload they come from.
_GCP_NAMES = {"requestObject": "request", "responseObject": "response"}


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
    redacted = _redact_secrets(native)
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
    doc = _document(native, verb, raw, entry)
    for key, value in extra.items():
        doc.setdefault(key, {}).update(value)
    out = drop_none(doc)
    out["kubernetes"] = {"audit": native}  # kept whole, nulls and all (Elasticsearch ignores nulls)
    if redacted:
        where = [f"kubernetes.audit.{key}" for key in redacted]
        where += [f"gcp.audit.{_GCP_NAMES[key]}" for key in redacted if "gcp" in extra]
        out.setdefault("soar", {})["redacted"] = [*where, "event.original"]
    return out


def redact_raw(raw: str) -> str:
    """The raw line with Secret values redacted, for records that never become documents (dead letters).

    A line that parses is redacted exactly as :func:`normalise` would. A line that does not parse but
    looks like it carries Secret data is replaced whole by a marker with its SHA-256 and length, so it can
    still be matched against the source without the secret being stored.
    """
    try:
        entry = json.loads(raw)
    except (ValueError, RecursionError):
        return _fingerprint(raw) if _mentions_secret_data(raw) else raw
    if not isinstance(entry, dict):
        return raw
    native = entry
    proto = entry.get("protoPayload")
    if isinstance(proto, dict):  # GKE: a view with the audit Event's names over the same objects
        about = "/secrets" in str(proto.get("resourceName", ""))
        native = {
            "objectRef": {"resource": "secrets" if about else None},
            "requestObject": proto.get("request"),
            "responseObject": proto.get("response"),
        }
    elif aks.is_aks(entry):
        try:
            native = aks.from_aks(entry)[0]
        except NormalisationError:
            return _fingerprint(raw) if _mentions_secret_data(raw) else raw
    if _redact_secrets(native):
        if aks.is_aks(entry):
            aks.rewrap(entry, native)
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    return raw


def _mentions_secret_data(raw: str) -> bool:
    lowered = raw.lower()
    return "secret" in lowered and ('"data' in lowered or "stringdata" in lowered)


def _fingerprint(raw: str) -> str:
    digest = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{REDACTED} unparseable record about Kubernetes secrets: sha256={digest}, {len(raw)} chars"


def _redact_secrets(native: dict[str, Any]) -> list[str]:
    """Replace, in place, every Secret value in the request and response objects; the keys stay.

    An object is a Secret when its ``kind`` (or GKE's ``@type``) says so, when it is an item of a
    SecretList, or, for an event on the ``secrets`` resource, when it is the top-level object and names no
    kind (a merge patch); JSON-patch operations on a Secret lose their ``value``.

    Returns:
        The members (``requestObject``, ``responseObject``) in which something was redacted.
    """
    ref = native.get("objectRef")
    about_secrets = isinstance(ref, dict) and ref.get("resource") == "secrets"
    return [key for key in _GCP_NAMES if _redact_tree(native.get(key), about_secrets)]


def _kind(obj: dict[str, Any]) -> str | None:
    kind = obj.get("kind")
    if isinstance(kind, str):
        return kind
    gcp_type = obj.get("@type")  # "core.k8s.io/v1.Secret"
    return gcp_type.rpartition(".")[2] if isinstance(gcp_type, str) and "/" in gcp_type else None


def _redact_tree(root: Any, about_secrets: bool) -> bool:
    """Redact the Secrets anywhere in ``root`` (iteratively: audit objects may nest deeply)."""
    changed = False
    if about_secrets and isinstance(root, list):  # a JSON patch: [{"op", "path", "value"}, ...]
        for op in root:
            if isinstance(op, dict) and "value" in op:
                op["value"], changed = REDACTED, True
    stack: list[tuple[Any, bool]] = [(root, about_secrets)]
    while stack:
        node, is_secret = stack.pop()
        if isinstance(node, list):
            stack.extend((item, False) for item in node)
            continue
        if not isinstance(node, dict):
            continue
        kind = _kind(node)
        if kind == "Secret" or (is_secret and kind is None):
            changed = _redact_secret(node) or changed
        items_are_secrets = kind == "SecretList" or (is_secret and kind is None)
        for key, child in node.items():
            if key == "items" and items_are_secrets and isinstance(child, list):
                stack.extend((item, True) for item in child)
            elif isinstance(child, dict | list):
                stack.append((child, False))
    return changed


def _redact_secret(secret: dict[str, Any]) -> bool:
    changed = False
    for key in ("data", "stringData"):
        values = secret.get(key)
        if isinstance(values, dict):
            for name in values:
                values[name], changed = REDACTED, True
        elif values is not None:
            secret[key], changed = REDACTED, True
    metadata = secret.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if isinstance(annotations, dict) and annotations.get(_LAST_APPLIED) is not None:
        annotations[_LAST_APPLIED], changed = _redacted_last_applied(annotations[_LAST_APPLIED]), True
    return changed


def _redacted_last_applied(text: Any) -> str:
    """The applied Secret kubectl stored as JSON, with its values redacted; wholly redacted if unreadable."""
    try:
        applied = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        applied = None
    if not isinstance(applied, dict):
        return REDACTED
    _redact_tree(applied, about_secrets=True)
    return json.dumps(applied, ensure_ascii=False, separators=(",", ":"))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _document(ev: dict[str, Any], verb: str | None, raw: str, envelope: dict[str, Any]) -> dict[str, Any]:
    stamp_field = "stageTimestamp" if ev.get("stageTimestamp") is not None else "requestReceivedTimestamp"
    stamp, ingested = event_time(ev.get(stamp_field), stamp_field, envelope)
    received = ev.get("requestReceivedTimestamp")
    obj = typed(ev, "objectRef", dict) or {}
    status = typed(ev, "responseStatus", dict) or {}
    code = typed(status, "code", int, "responseStatus.code")
    if code is not None and not 0 <= code < 1000:
        raise NormalisationError(f"not an HTTP status: {code}", field="responseStatus.code")
    annotations = typed(ev, "annotations", dict) or {}
    resource = typed(obj, "resource", str, "objectRef.resource")
    doc: dict[str, Any] = {
        "@timestamp": stamp,
        "event": _event(ev, verb, resource, code, annotations, raw),
        "url": {"original": typed(ev, "requestURI", str)},
        "http": {"response": {"status_code": code}},
        "user_agent": {"original": typed(ev, "userAgent", str)},
        "orchestrator": _orchestrator(obj, resource),
    }
    if received is not None and stamp_field == "stageTimestamp":
        doc["event"]["start"] = iso(parse_time(received, "requestReceivedTimestamp"))
        doc["event"]["end"] = doc["@timestamp"]
    doc.update(_who(ev))
    if ingested:
        mark_time_ingested(doc)
    return doc


def _event(
    ev: dict[str, Any],
    verb: str | None,
    resource: str | None,
    code: int | None,
    annotations: dict[str, Any],
    raw: str,
) -> dict[str, Any]:
    decision = annotations.get("authorization.k8s.io/decision")
    types = [_VERB_TYPES.get(verb or "", "info")]
    if decision == "allow":
        types.append("allowed")
    elif decision == "forbid":
        types.append("denied")
    category = ["iam"] if resource in _IAM_RESOURCES else []
    category.append("api")
    reason = annotations.get("authorization.k8s.io/reason")
    message = (ev.get("responseStatus") or {}).get("message")
    reason = message if isinstance(message, str) and message else reason
    return {
        "kind": "event",
        "module": _SPEC.module,
        "dataset": _SPEC.dataset,
        "category": category,
        "type": types,
        "action": verb,
        "outcome": outcome_from_status(code),
        "id": typed(ev, "auditID", str),
        "reason": reason if isinstance(reason, str) and reason else None,
        "original": raw,
    }


def _orchestrator(obj: dict[str, Any], resource: str | None) -> dict[str, Any]:
    subresource = typed(obj, "subresource", str, "objectRef.subresource")
    return {
        "type": "kubernetes",
        "namespace": typed(obj, "namespace", str, "objectRef.namespace"),
        "api_version": typed(obj, "apiVersion", str, "objectRef.apiVersion"),
        "resource": {
            "type": f"{resource}/{subresource}" if resource and subresource else resource,
            "name": typed(obj, "name", str, "objectRef.name"),
            "parent": {"type": resource if subresource else None},
        },
    }


def _who(ev: dict[str, Any]) -> dict[str, Any]:
    user = typed(ev, "user", dict) or {}
    name = typed(user, "username", str, "user.username")
    groups = typed(user, "groups", list, "user.groups")
    imp = typed(ev, "impersonatedUser", dict) or {}
    imp_name = typed(imp, "username", str, "impersonatedUser.username")
    ips = [ip for ip in (ip_or_none(v) for v in typed(ev, "sourceIPs", list) or []) if ip]
    return {
        "user": {
            "name": name,
            "id": typed(user, "uid", str, "user.uid"),
            "group": {"name": [g for g in groups if isinstance(g, str)] or None} if groups else None,
            "effective": {"name": imp_name, "id": typed(imp, "uid", str, "impersonatedUser.uid")},
        },
        "source": {"ip": ips[0] if ips else None},
        "related": {"ip": dedupe(ips) or None, "user": dedupe([name, imp_name]) or None},
    }


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
