"""Entities read from alert documents: users with their IdP, clients, principals, pods, Internet addresses."""

from __future__ import annotations

from soar.response.entities import alert_entities, get_path
from soar.response.models import ActionKind, EntityKind, can_target


def test_dotted_and_nested_paths_are_both_read() -> None:
    doc = {"a": {"b.c": 1}, "x.y": {"z": 2}}
    assert get_path(doc, "a.b.c") == 1
    assert get_path(doc, "x.y.z") == 2
    assert get_path(doc, "a.missing") is None


def test_keycloak_user_and_public_address() -> None:
    doc = {"event": {"dataset": "keycloak.event"}, "user": {"name": "Alice"}, "source": {"ip": "81.2.69.160"}}
    entities = alert_entities(doc)
    assert [(e.kind, e.system, e.value) for e in entities] == [
        (EntityKind.USER, "keycloak", "Alice"),
        (EntityKind.ADDRESS, "gateway", "81.2.69.160"),
    ]
    assert entities[0].key == "user:keycloak:alice"


def test_mesh_addresses_group_but_are_not_blocked_at_the_gateway() -> None:
    doc = {"event": {"dataset": "envoy.access"}, "source": {"ip": "10.4.0.7"}}
    (address,) = alert_entities(doc)
    assert address.system == "mesh"
    assert not can_target(ActionKind.BLOCK_ADDRESS, address)
    public = alert_entities({"source": {"ip": "81.2.69.160"}})[0]
    assert can_target(ActionKind.BLOCK_ADDRESS, public)


def test_mesh_principal_tpp_client_and_pod() -> None:
    doc = {
        "event": {"dataset": "kubernetes.audit"},
        "envoy": {"mtls": {"peer_principal": "spiffe://bank.example/ns/x/sa/y"}},
        "payment": {"tpp_client_id": "PSDNL-DNB-R171822"},
        "kubernetes": {"audit": {"objectRef": {"resource": "pods", "namespace": "core", "name": "ledger-0"}}},
        "user": {"name": "dev@bank.example"},
    }
    kinds = {e.kind: e for e in alert_entities(doc)}
    assert kinds[EntityKind.PRINCIPAL].value == "spiffe://bank.example/ns/x/sa/y"
    assert kinds[EntityKind.CLIENT].system == "keycloak"
    assert kinds[EntityKind.WORKLOAD].value == "core/ledger-0"
    assert kinds[EntityKind.USER].system == "kubernetes"  # a cluster user, not an IdP account


def test_duplicates_collapse_case_insensitively() -> None:
    doc = {"event": {"dataset": "okta.system"}, "user": {"name": "Bob", "target": {"name": "bob"}}}
    assert len(alert_entities(doc)) == 1
