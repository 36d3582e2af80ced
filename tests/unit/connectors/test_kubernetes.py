"""The Kubernetes connector against the fake API server: Istio policies, NetworkPolicy quarantine, labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from soar.connectors import Responders
from soar.connectors.kubernetes import object_name, quarantine_label
from soar.errors import ConnectorError, ConnectorUnavailable
from soar.response.models import ActionKind, ActionOutcome, EntityKind
from soar.testing import FakeKubernetes, connector_settings

from .conftest import SpecFactory

AP = "authorizationpolicies"
NP = "networkpolicies"
POD = "payments/api-7d9f-x2"


async def test_deny_principal_mesh_wide(
    responders: Responders, kubernetes: FakeKubernetes, spec: SpecFactory
) -> None:
    action = spec(
        ActionKind.DENY_PRINCIPAL, EntityKind.PRINCIPAL, "spiffe://cluster.local/ns/payments/sa/api"
    )
    applied = await responders.apply(action)
    assert applied.outcome is ActionOutcome.APPLIED
    name = object_name(action)
    assert name == f"soar-deny-{action.key[:12]}"
    policy = kubernetes.get(AP, "istio-system", name)
    assert policy is not None
    assert policy["apiVersion"] == "security.istio.io/v1"
    assert "selector" not in policy["spec"]  # in the root namespace without selector: the whole mesh
    assert policy["spec"] == {
        "action": "DENY",
        "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/payments/sa/api"]}}]}],
    }
    meta = policy["metadata"]
    assert meta["labels"]["soar.io/incident"] == "INC-1"
    assert meta["labels"]["soar.io/action"] == "deny_principal"
    assert meta["annotations"]["soar.io/reason"] == action.reason
    assert meta["annotations"]["soar.io/requested-by"] == "soar"

    assert (await responders.apply(action)).outcome is ActionOutcome.ALREADY_APPLIED
    assert kubernetes.mutations[("create_authorizationpolicy", f"istio-system/{name}")] == 1
    assert (await responders.revert(action, applied)).outcome is ActionOutcome.REVERTED
    assert (await responders.revert(action, applied)).outcome is ActionOutcome.ALREADY_REVERTED
    assert kubernetes.names(AP) == []
    assert kubernetes.mutations[("delete_authorizationpolicy", f"istio-system/{name}")] == 1


async def test_block_address_at_the_gateway(
    responders: Responders, kubernetes: FakeKubernetes, spec: SpecFactory
) -> None:
    action = spec(ActionKind.BLOCK_ADDRESS, EntityKind.ADDRESS, "2001:db8::7")
    await responders.apply(action)
    policy = kubernetes.get(AP, "istio-system", object_name(action))
    assert policy is not None
    assert policy["spec"]["selector"] == {"matchLabels": {"istio": "ingressgateway"}}
    assert policy["spec"]["rules"] == [{"from": [{"source": {"remoteIpBlocks": ["2001:db8::7/128"]}}]}]


async def test_gateway_settings_are_honoured(
    kubernetes: FakeKubernetes, spec: SpecFactory, tmp_path: Path
) -> None:
    settings = connector_settings(kubernetes=kubernetes)
    assert settings.kubernetes is not None
    custom = settings.kubernetes.model_copy(
        update={
            "gateway_namespace": "edge",
            "gateway_selector": {"app": "bank-gw"},
            "mesh_root_namespace": "mesh",
        }
    )
    async with Responders(settings.model_copy(update={"kubernetes": custom}), tmp_path) as responders:
        block = spec(ActionKind.BLOCK_ADDRESS, EntityKind.ADDRESS, "198.51.100.0/24")
        deny = spec(ActionKind.DENY_PRINCIPAL, EntityKind.PRINCIPAL, "cluster.local/ns/x/sa/y")
        await responders.apply(block)
        await responders.apply(deny)
    blocked = kubernetes.get(AP, "edge", object_name(block))
    assert blocked is not None
    assert blocked["spec"]["selector"] == {"matchLabels": {"app": "bank-gw"}}
    assert kubernetes.get(AP, "mesh", object_name(deny)) is not None


async def test_quarantine_adds_policy_and_label_once_and_revert_removes_both(
    responders: Responders, kubernetes: FakeKubernetes, spec: SpecFactory
) -> None:
    action = spec(ActionKind.QUARANTINE_WORKLOAD, EntityKind.WORKLOAD, POD)
    applied = await responders.apply(action)
    assert applied.outcome is ActionOutcome.APPLIED
    label = quarantine_label(action)
    policy = kubernetes.get(NP, "payments", object_name(action))
    assert policy is not None
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {label: "true"}},
        "policyTypes": ["Ingress", "Egress"],
    }
    labels = kubernetes.pod(POD)["metadata"]["labels"]
    assert labels == {"app": "api", "tier": "backend", label: "true"}
    patch = next(r for r in kubernetes.requests if r.method == "PATCH")
    assert patch.headers["content-type"] == "application/merge-patch+json"

    again = await responders.apply(action)
    assert again.outcome is ActionOutcome.ALREADY_APPLIED
    assert kubernetes.mutations[("patch_pod", POD)] == 1
    assert kubernetes.mutations[("create_networkpolicy", f"payments/{object_name(action)}")] == 1

    assert (await responders.revert(action, applied)).outcome is ActionOutcome.REVERTED
    assert kubernetes.pod(POD)["metadata"]["labels"] == {"app": "api", "tier": "backend"}
    assert kubernetes.names(NP) == []
    assert (await responders.revert(action, applied)).outcome is ActionOutcome.ALREADY_REVERTED
    assert kubernetes.mutations[("patch_pod", POD)] == 2


async def test_two_incidents_quarantine_and_release_independently(
    responders: Responders, kubernetes: FakeKubernetes, spec: SpecFactory
) -> None:
    first = spec(ActionKind.QUARANTINE_WORKLOAD, EntityKind.WORKLOAD, POD, incident="INC-1")
    second = spec(ActionKind.QUARANTINE_WORKLOAD, EntityKind.WORKLOAD, POD, incident="INC-2")
    applied = await responders.apply(first)
    await responders.apply(second)
    await responders.revert(first, applied)
    labels = kubernetes.pod(POD)["metadata"]["labels"]
    assert quarantine_label(second) in labels
    assert quarantine_label(first) not in labels
    assert kubernetes.names(NP) == [f"payments/{object_name(second)}"]


async def test_missing_pod_is_refused_before_anything_is_created(
    responders: Responders, kubernetes: FakeKubernetes, spec: SpecFactory
) -> None:
    with pytest.raises(ConnectorError, match="pod payments/gone not found") as caught:
        await responders.apply(spec(ActionKind.QUARANTINE_WORKLOAD, EntityKind.WORKLOAD, "payments/gone"))
    assert not isinstance(caught.value, ConnectorUnavailable)
    assert kubernetes.names(NP) == []


@pytest.mark.parametrize(
    ("kind", "entity", "value", "message"),
    [
        (ActionKind.BLOCK_ADDRESS, EntityKind.ADDRESS, "not-an-ip", "is not an IP address or CIDR"),
        (ActionKind.QUARANTINE_WORKLOAD, EntityKind.WORKLOAD, "api-7d9f-x2", "is not <namespace>/<pod>"),
        (ActionKind.DENY_PRINCIPAL, EntityKind.PRINCIPAL, "api", "is not a SPIFFE id"),
    ],
)
async def test_bad_targets_are_refused_without_a_request(
    responders: Responders,
    kubernetes: FakeKubernetes,
    spec: SpecFactory,
    kind: ActionKind,
    entity: EntityKind,
    value: str,
    message: str,
) -> None:
    with pytest.raises(ConnectorError, match=message):
        await responders.apply(spec(kind, entity, value))
    assert kubernetes.requests == []


async def test_wrong_token_is_refused_without_the_token(
    kubernetes: FakeKubernetes, spec: SpecFactory, tmp_path: Path
) -> None:
    settings = connector_settings(kubernetes=kubernetes)
    kubernetes.token = "rotated-token"  # the API server no longer accepts soar's token
    async with Responders(settings, tmp_path) as responders:
        with pytest.raises(ConnectorError) as caught:
            await responders.apply(spec(ActionKind.BLOCK_ADDRESS, EntityKind.ADDRESS, "198.51.100.7"))
    message = str(caught.value)
    assert message.startswith("kubernetes: POST /apis/security.istio.io/v1/namespaces/istio-system/")
    assert "401 Unauthorized" in message
    assert "k8s-very-secret-3" not in message
    assert "Bearer" not in message
