"""Entities of an alert: who and what its event is about, read from the copied ECS source document."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from soar.response.models import Entity, EntityKind

# Which identity system a user or client of a dataset lives in.
_IDP_OF_DATASET = {"keycloak.event": "keycloak", "okta.system": "okta"}
_CLIENT_FIELDS = ("payment.tpp_client_id",)
_PRINCIPAL_FIELDS = ("envoy.mtls.peer_principal", "opa.source_principal")


def get_path(doc: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of a nested document (dotted keys too), or None."""
    node: Any = doc
    parts = path.split(".")
    i = 0
    while i < len(parts):
        if not isinstance(node, dict):
            return None
        for j in range(len(parts), i, -1):  # longest dotted key first: {"a.b": 1} as well as {"a": {"b": 1}}
            key = ".".join(parts[i:j])
            if key in node:
                node, i = node[key], j
                break
        else:
            return None
    return node


def _first(doc: dict[str, Any], path: str) -> str | None:
    value = get_path(doc, path)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value not in (None, "", "-") else None


def _users(doc: dict[str, Any], dataset: str | None) -> Iterator[Entity]:
    system = _IDP_OF_DATASET.get(dataset or "")
    if dataset == "kubernetes.audit":
        system = "kubernetes"
    for field in ("user.name", "user.target.name"):
        name = _first(doc, field)
        if name is not None:
            yield Entity(kind=EntityKind.USER, value=name, system=system, field=field)


def _workload(doc: dict[str, Any]) -> Entity | None:
    if _first(doc, "kubernetes.audit.objectRef.resource") != "pods":
        return None
    namespace = _first(doc, "kubernetes.audit.objectRef.namespace")
    name = _first(doc, "kubernetes.audit.objectRef.name")
    if namespace is None or name is None:
        return None
    field = "kubernetes.audit.objectRef.name"
    return Entity(kind=EntityKind.WORKLOAD, value=f"{namespace}/{name}", system="kubernetes", field=field)


def _address(doc: dict[str, Any]) -> Entity | None:
    value = _first(doc, "source.ip")
    if value is None:
        return None
    try:
        public = ipaddress.ip_address(value).is_global
    except ValueError:
        return None
    # An Internet address can be blocked at the gateway; a mesh address (a pod's, for hours at most) only
    # groups the alerts of one caller.
    system = "gateway" if public else "mesh"
    return Entity(kind=EntityKind.ADDRESS, value=value, system=system, field="source.ip")


def alert_entities(doc: dict[str, Any]) -> list[Entity]:
    """The entities of an alert's event, most specific first, without duplicates."""
    dataset = _first(doc, "event.dataset")
    found: list[Entity] = list(_users(doc, dataset))
    for field in _CLIENT_FIELDS:
        if (client := _first(doc, field)) is not None:
            found.append(Entity(kind=EntityKind.CLIENT, value=client, system="keycloak", field=field))
    for field in _PRINCIPAL_FIELDS:
        if (principal := _first(doc, field)) is not None:
            found.append(Entity(kind=EntityKind.PRINCIPAL, value=principal, system="mesh", field=field))
    found += [e for e in (_workload(doc), _address(doc)) if e is not None]
    return list({e.key: e for e in found}.values())
