"""A fake Kubernetes API server: Istio AuthorizationPolicies, NetworkPolicies and pods (get, merge patch)."""

from __future__ import annotations

import copy
import itertools
import re
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from soar.response.settings import KubernetesSettings
from soar.testing.server import FakeServer, Incoming, Reply

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
# resource plural -> (group/version, kind)
RESOURCES = {
    "authorizationpolicies": ("security.istio.io/v1", "AuthorizationPolicy"),
    "networkpolicies": ("networking.k8s.io/v1", "NetworkPolicy"),
}


def status(code: int, reason: str, message: str) -> Reply:
    """A ``v1.Status`` failure, as the API server answers."""
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return Reply(code, body)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


class FakeKubernetes(FakeServer):
    """The part of the Kubernetes API soar uses.

    Create answers 409 AlreadyExists on a duplicate name, get and delete 404 NotFound on a missing one; pods
    take ``application/merge-patch+json`` only. Mutation counters: ``create_<kind>`` / ``delete_<kind>``
    (kind lower-cased, e.g. ``create_authorizationpolicy``) with target ``<namespace>/<name>``, and
    ``patch_pod`` with target ``<namespace>/<pod>``.

    Args:
        token: The bearer token required (None: no token needed, e.g. client-certificate auth over mTLS).
    """

    kind = "kubernetes"
    config_keys = ("token",)

    def __init__(self, *, token: str | None = "fake-kubernetes-token", **options: Any) -> None:
        super().__init__(**options)
        self.token = token
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {plural: {} for plural in RESOURCES}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self._versions = itertools.count(1000)
        for plural, (group_version, _) in RESOURCES.items():
            prefix = f"/apis/{group_version}/namespaces/(?P<namespace>[^/]+)/{plural}"
            self.route("POST", prefix, self._create(plural))
            self.route("GET", prefix, self._list(plural))
            self.route("GET", f"{prefix}/(?P<name>[^/]+)", self._get(plural))
            self.route("DELETE", f"{prefix}/(?P<name>[^/]+)", self._delete(plural))
        pod = "/api/v1/namespaces/(?P<namespace>[^/]+)/pods/(?P<name>[^/]+)"
        self.route("GET", pod, self._get_pod)
        self.route("PATCH", pod, self._patch_pod)

    # -- seeding and reading state -------------------------------------------------------------------------
    def add_pod(self, workload: str, *, labels: Mapping[str, str] | None = None) -> None:
        """Add a running pod ``<namespace>/<name>``."""
        namespace, name = workload.split("/", 1)
        with self.lock:
            self.pods[(namespace, name)] = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, workload)),
                    "resourceVersion": str(next(self._versions)),
                    "labels": dict(labels or {"app": name.rsplit("-", 2)[0]}),
                },
                "spec": {"containers": [{"name": "app", "image": "registry.bank.example/app:1"}]},
                "status": {"phase": "Running"},
            }

    def seed(self, data: Mapping[str, Any]) -> None:
        """Pods from ``{"pods": [{"workload": "ns/name", "labels": {...}}]}``."""
        for pod in data.get("pods") or []:
            self.add_pod(pod["workload"], labels=pod.get("labels"))

    def pod(self, workload: str) -> dict[str, Any]:
        """A copy of a pod (KeyError when unknown)."""
        namespace, name = workload.split("/", 1)
        with self.lock:
            return copy.deepcopy(self.pods[(namespace, name)])

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A copy of an AuthorizationPolicy or NetworkPolicy, or None."""
        with self.lock:
            found = self.objects[plural].get((namespace, name))
            return None if found is None else dict(found)

    def names(self, plural: str) -> list[str]:
        """``<namespace>/<name>`` of every object of one resource."""
        with self.lock:
            return sorted(f"{ns}/{name}" for ns, name in self.objects[plural])

    @staticmethod
    def settings_from(url: str, config: Mapping[str, Any], **extra: Any) -> KubernetesSettings:
        """Settings pointing at a fake Kubernetes at ``url`` configured with ``config``."""
        token = config.get("token", "fake-kubernetes-token")
        return KubernetesSettings(url=url, token=SecretStr(token) if token else None, **extra)

    # -- routes ----------------------------------------------------------------------------------------
    def authorize(self, request: Incoming) -> Reply | None:
        """Every call needs the bearer token, when one is set."""
        if self.token is not None and request.headers.get("authorization") != f"Bearer {self.token}":
            return status(401, "Unauthorized", "Unauthorized")
        return None

    def _create(self, plural: str) -> Any:
        group_version, kind = RESOURCES[plural]

        def create(request: Incoming, namespace: str) -> Reply:
            body = request.json()
            if (
                not isinstance(body, dict)
                or body.get("apiVersion") != group_version
                or body.get("kind") != kind
            ):
                return status(400, "BadRequest", f"the body is not a {group_version} {kind}")
            meta = body.setdefault("metadata", {})
            name = meta.get("name", "")
            if (
                not _NAME.match(name)
                or len(name) > 253
                or meta.setdefault("namespace", namespace) != namespace
            ):
                return status(
                    422, "Invalid", f'{kind} "{name}" is invalid: metadata.name or metadata.namespace'
                )
            where = self.objects[plural]
            if (namespace, name) in where:
                return status(
                    409, "AlreadyExists", f'{plural}.{group_version.split("/")[0]} "{name}" already exists'
                )
            meta |= {"uid": str(uuid.uuid4()), "resourceVersion": str(next(self._versions)), "generation": 1}
            where[(namespace, name)] = body
            self.count(f"create_{kind.lower()}", f"{namespace}/{name}")
            return Reply(201, body)

        return create

    def _list(self, plural: str) -> Any:
        group_version, kind = RESOURCES[plural]

        def list_(request: Incoming, namespace: str) -> Reply:
            items = [o for (ns, _), o in sorted(self.objects[plural].items()) if ns == namespace]
            return Reply(200, {"apiVersion": group_version, "kind": f"{kind}List", "items": items})

        return list_

    def _get(self, plural: str) -> Any:
        group = RESOURCES[plural][0].split("/")[0]

        def get(request: Incoming, namespace: str, name: str) -> Reply:
            found = self.objects[plural].get((namespace, name))
            return (
                status(404, "NotFound", f'{plural}.{group} "{name}" not found')
                if found is None
                else Reply(200, found)
            )

        return get

    def _delete(self, plural: str) -> Any:
        group, kind = RESOURCES[plural][0].split("/")[0], RESOURCES[plural][1]

        def delete(request: Incoming, namespace: str, name: str) -> Reply:
            if self.objects[plural].pop((namespace, name), None) is None:
                return status(404, "NotFound", f'{plural}.{group} "{name}" not found')
            self.count(f"delete_{kind.lower()}", f"{namespace}/{name}")
            details = {"name": name, "group": group, "kind": plural}
            return Reply(200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "details": details})

        return delete

    def _get_pod(self, request: Incoming, namespace: str, name: str) -> Reply:
        pod = self.pods.get((namespace, name))
        return status(404, "NotFound", f'pods "{name}" not found') if pod is None else Reply(200, pod)

    def _patch_pod(self, request: Incoming, namespace: str, name: str) -> Reply:
        pod = self.pods.get((namespace, name))
        if pod is None:
            return status(404, "NotFound", f'pods "{name}" not found')
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/merge-patch+json":
            return status(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format: {content_type}",
            )
        patch = request.json()
        if not isinstance(patch, dict):
            return status(400, "BadRequest", "the patch is not a JSON object")
        updated = merge_patch(pod, patch)
        updated["metadata"]["resourceVersion"] = str(next(self._versions))
        self.pods[(namespace, name)] = updated
        self.count("patch_pod", f"{namespace}/{name}")
        return Reply(200, updated)
