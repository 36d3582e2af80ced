"""Kubernetes API-server audit records (audit.k8s.io/v1 Event)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from soar.telemetry.scenario.ids import ts_micros, uuid_like
from soar.telemetry.scenario.recorder import Context, Trail
from soar.telemetry.sources import Source

KUBECTL = "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46"
_CORE = (
    "pods",
    "secrets",
    "configmaps",
    "services",
    "endpoints",
    "serviceaccounts",
    "namespaces",
    "nodes",
    "events",
)
_GROUPS = {
    "deployments": ("apps", "apps/v1"),
    "replicasets": ("apps", "apps/v1"),
    "leases": ("coordination.k8s.io", "coordination.k8s.io/v1"),
    "clusterrolebindings": ("rbac.authorization.k8s.io", "rbac.authorization.k8s.io/v1"),
    "rolebindings": ("rbac.authorization.k8s.io", "rbac.authorization.k8s.io/v1"),
}


@dataclass(frozen=True)
class K8sUser:
    """Who called the API server."""

    username: str
    groups: tuple[str, ...]
    uid: str
    source_ip: str
    user_agent: str


@dataclass(frozen=True)
class ApiCall:
    """One API request; ``name`` None means a collection request (list/create/watch)."""

    verb: str
    resource: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    code: int = 200
    query: str = ""
    request_object: dict[str, Any] | None = None
    reason: str = ""


def request_uri(call: ApiCall) -> str:
    """The request URI the API server logs for ``call``."""
    group, version = _GROUPS.get(call.resource, ("", "v1"))
    base = "/api/v1" if not group else f"/apis/{version}"
    if call.namespace is not None:
        base += f"/namespaces/{call.namespace}"
    uri = f"{base}/{call.resource}"
    if (call.name is not None and call.verb != "create") or call.subresource:
        uri += f"/{call.name}"
    if call.subresource:
        uri += f"/{call.subresource}"
    return uri + (f"?{call.query}" if call.query else "")


def emit_audit(ctx: Context, at: datetime, user: K8sUser, call: ApiCall, trail: Trail | None = None) -> str:
    """Write one audit event at stage ResponseComplete; returns its ``auditID``."""
    at = ctx.clamp(at)
    group, version = _GROUPS.get(call.resource, ("", "v1"))
    obj: dict[str, Any] = {"resource": call.resource, "apiVersion": version.split("/")[-1]}
    if group:  # the API server leaves apiGroup out for the core group
        obj["apiGroup"] = group
    if call.namespace is not None:
        obj["namespace"] = call.namespace
    if call.name is not None:
        obj["name"] = call.name
    if call.subresource:
        obj["subresource"] = call.subresource
    rec: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse" if call.request_object else "Metadata",
        "auditID": uuid_like(ctx.rng),
        "stage": "ResponseComplete",
        "requestURI": request_uri(call),
        "verb": call.verb,
        "user": {"username": user.username, "uid": user.uid, "groups": list(user.groups)},
        "sourceIPs": [user.source_ip],
        "userAgent": user.user_agent,
        "objectRef": obj,
        "responseStatus": {"metadata": {}, "code": call.code},
        "requestReceivedTimestamp": ts_micros(at),
        "stageTimestamp": ts_micros(ctx.clamp(at + timedelta(microseconds=ctx.rng.randint(900, 40_000)))),
        "annotations": {
            "authorization.k8s.io/decision": "forbid" if call.code == 403 else "allow",
            "authorization.k8s.io/reason": call.reason,
        },
    }
    if call.request_object is not None:
        rec["requestObject"] = call.request_object
    return ctx.emit(Source.KUBERNETES, at, rec, trail)
