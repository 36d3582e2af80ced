"""Kubernetes API and Istio: deny a SPIFFE principal, quarantine a pod, block an address at the ingress gateway."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import quote

import httpx

from soar.connectors.base import Attempt, Call, Http, build_client, result
from soar.errors import ConnectorError
from soar.response.models import ActionKind, ActionOutcome, ActionResult, ActionSpec
from soar.response.settings import KubernetesSettings

SYSTEM = "kubernetes"
AUTHZ = "/apis/security.istio.io/v1"
NETPOL = "/apis/networking.k8s.io/v1"
MERGE_PATCH = "application/merge-patch+json"
_SHORT = {
    ActionKind.DENY_PRINCIPAL: "deny",
    ActionKind.QUARANTINE_WORKLOAD: "quarantine",
    ActionKind.BLOCK_ADDRESS: "block",
}
_NOT_LABEL = re.compile(r"[^A-Za-z0-9._-]+")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def object_name(spec: ActionSpec) -> str:
    """The deterministic name of what an action creates: a retry finds it instead of creating a second one."""
    return f"soar-{_SHORT[spec.kind]}-{spec.key[:12].lower()}"


def quarantine_label(spec: ActionSpec) -> str:
    """The pod label of one quarantine; one per action, so two incidents revert independently."""
    return f"soar.io/quarantine-{spec.key[:12].lower()}"


def _label_value(text: str) -> str:
    value = _NOT_LABEL.sub("-", text)[:63]
    return value.strip("-_.") or "none"


def _metadata(spec: ActionSpec, namespace: str) -> dict[str, Any]:
    return {
        "name": object_name(spec),
        "namespace": namespace,
        "labels": {
            "app.kubernetes.io/managed-by": "soar",
            "soar.io/incident": _label_value(spec.incident_id),
            "soar.io/action": _label_value(str(spec.kind)),
            "soar.io/key": _label_value(spec.key),
        },
        "annotations": {
            "soar.io/incident-id": spec.incident_id,
            "soar.io/target": spec.target.value,
            "soar.io/reason": spec.reason,
            "soar.io/requested-by": spec.requested_by,
        },
    }


def _workload(value: str) -> tuple[str, str]:
    namespace, _, pod = value.partition("/")
    if not _DNS_LABEL.match(namespace) or not pod or "/" in pod:
        raise ConnectorError(f"kubernetes: workload {value!r} is not <namespace>/<pod>")
    return namespace, pod


def manifest(spec: ActionSpec, settings: KubernetesSettings) -> tuple[str, dict[str, Any]]:
    """The collection path and the object an action creates (AuthorizationPolicy or NetworkPolicy).

    Raises:
        ConnectorError: A target that does not fit the action (bad address, workload, principal).
    """
    value = spec.target.value
    if spec.kind is ActionKind.DENY_PRINCIPAL:
        # Istio matches the SPIFFE id without its scheme: <trust-domain>/ns/<namespace>/sa/<account>.
        principal = value.removeprefix("spiffe://")
        if "/" not in principal:
            raise ConnectorError(f"kubernetes: principal {value!r} is not a SPIFFE id")
        namespace = settings.mesh_root_namespace  # a policy in the root namespace applies mesh-wide
        rule = {"from": [{"source": {"principals": [principal]}}]}
        return _authz(spec, namespace, {"action": "DENY", "rules": [rule]})
    if spec.kind is ActionKind.BLOCK_ADDRESS:
        try:
            block = str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ConnectorError(f"kubernetes: address {value!r} is not an IP address or CIDR") from None
        # remoteIpBlocks: the client address (X-Forwarded-For / PROXY protocol), not the load balancer's.
        rule = {"from": [{"source": {"remoteIpBlocks": [block]}}]}
        selector = {"matchLabels": dict(settings.gateway_selector)}
        policy = {"selector": selector, "action": "DENY", "rules": [rule]}
        return _authz(spec, settings.gateway_namespace, policy)
    if spec.kind is ActionKind.QUARANTINE_WORKLOAD:
        namespace, _ = _workload(value)
        body = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _metadata(spec, namespace),
            "spec": {
                "podSelector": {"matchLabels": {quarantine_label(spec): "true"}},
                "policyTypes": ["Ingress", "Egress"],  # no rules: nothing in, nothing out
            },
        }
        return f"{NETPOL}/namespaces/{namespace}/networkpolicies", body
    raise ConnectorError(f"kubernetes: cannot {spec.kind}")


def _authz(spec: ActionSpec, namespace: str, policy: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    body = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": _metadata(spec, namespace),
        "spec": policy,
    }
    return f"{AUTHZ}/namespaces/{namespace}/authorizationpolicies", body


def _pod_path(value: str) -> str:
    namespace, pod = _workload(value)
    return f"/api/v1/namespaces/{namespace}/pods/{quote(pod, safe='')}"


class KubernetesConnector:
    """Containment through the Kubernetes API server (Istio resources included).

    Args:
        settings: The API server, its credentials and where the mesh and gateway live.
        timeout: Seconds per request.
        transport: An httpx transport (tests pass ``httpx.MockTransport``).
    """

    system = SYSTEM

    def __init__(
        self, settings: KubernetesSettings, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        token = settings.token.get_secret_value() if settings.token else None
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        client = build_client(SYSTEM, settings.url, settings, timeout, headers=headers, transport=transport)
        self.http = Http(SYSTEM, client, secrets=[token] if token else [])

    async def apply(self, spec: ActionSpec, attempt: Attempt) -> ActionResult:
        """Create the policy (409: it exists already) and, for a pod, add the quarantine label if missing."""
        trace: list[str] = []
        collection, body = manifest(spec, self.settings)
        name = body["metadata"]["name"]
        undo: dict[str, Any] = {"path": f"{collection}/{name}", "name": name}
        pod = None
        if spec.kind is ActionKind.QUARANTINE_WORKLOAD:
            pod = await self._pod(spec.target.value, trace)  # fail before creating anything
            undo |= {"pod": spec.target.value, "label": quarantine_label(spec)}
        created = await self._create(Call("POST", collection, body=body), trace)
        labelled = False
        if pod is not None and (pod.get("metadata", {}).get("labels") or {}).get(undo["label"]) != "true":
            await self.http.send(label_call(spec.target.value, undo["label"], "true"), trace)
            labelled = True
        outcome = ActionOutcome.APPLIED if created or labelled else ActionOutcome.ALREADY_APPLIED
        done = [f"{body['kind']} {name}" + ("" if created else " (existed)")]
        if pod is not None:
            done.append(f"pod {spec.target.value} labelled" + ("" if labelled else " (was already)"))
        return result(spec, outcome, SYSTEM, "; ".join(done), trace, undo)

    async def revert(self, spec: ActionSpec, applied: ActionResult) -> ActionResult:
        """Remove the quarantine label if present, then delete the policy (404: gone already)."""
        trace: list[str] = []
        collection, body = manifest(spec, self.settings)
        path = f"{collection}/{body['metadata']['name']}"  # recomputed: the undo is only a record
        unlabelled = False
        if spec.kind is ActionKind.QUARANTINE_WORKLOAD:
            label = quarantine_label(spec)
            pod = await self._pod(spec.target.value, trace, missing_ok=True)
            if pod is not None and label in (pod.get("metadata", {}).get("labels") or {}):
                await self.http.send(label_call(spec.target.value, label, None), trace)
                unlabelled = True
        response = await self.http.send(Call("DELETE", path), trace, allow=frozenset({404}))
        deleted = response.status_code != 404
        outcome = ActionOutcome.REVERTED if deleted or unlabelled else ActionOutcome.ALREADY_REVERTED
        detail = f"{body['kind']} {body['metadata']['name']} " + (
            "deleted" if deleted else "was already gone"
        )
        if spec.kind is ActionKind.QUARANTINE_WORKLOAD:
            detail += f"; pod {spec.target.value} " + (
                "unlabelled" if unlabelled else "had no quarantine label"
            )
        return result(spec, outcome, SYSTEM, detail, trace, applied.undo)

    async def _create(self, call: Call, trace: list[str]) -> bool:
        response = await self.http.send(call, trace, allow=frozenset({409}))
        return response.status_code != 409

    async def _pod(self, value: str, trace: list[str], *, missing_ok: bool = False) -> dict[str, Any] | None:
        call = Call("GET", _pod_path(value))
        response = await self.http.send(call, trace, allow=frozenset({404}))
        if response.status_code == 404:
            if missing_ok:
                return None
            raise self.http.refuse(call, f"pod {value} not found")
        pod: dict[str, Any] = response.json()
        return pod

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()


def label_call(workload: str, label: str, value: str | None) -> Call:
    """A JSON merge patch setting (or, with None, removing) one label of a pod."""
    body = {"metadata": {"labels": {label: value}}}
    return Call("PATCH", _pod_path(workload), body=body, content_type=MERGE_PATCH)


def plan(spec: ActionSpec, phase: str, settings: KubernetesSettings) -> tuple[list[Call], str]:
    """The calls applying or reverting ``spec`` would make (the manifests are exact: names are deterministic)."""
    collection, body = manifest(spec, settings)
    item = f"{collection}/{body['metadata']['name']}"
    quarantine = spec.kind is ActionKind.QUARANTINE_WORKLOAD
    if phase == "apply":
        calls = [Call("POST", collection, body=body)]
        if quarantine:
            pod = Call("GET", _pod_path(spec.target.value))
            calls = [pod, *calls, label_call(spec.target.value, quarantine_label(spec), "true")]
        return calls, "409 AlreadyExists counts as applied; the label is patched only when missing"
    calls = [Call("DELETE", item)]
    if quarantine:
        pod = Call("GET", _pod_path(spec.target.value))
        calls = [pod, label_call(spec.target.value, quarantine_label(spec), None), *calls]
    return calls, "404 NotFound counts as reverted; the label is removed only when present"
