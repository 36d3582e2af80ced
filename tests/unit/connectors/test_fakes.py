"""The fakes themselves: they must refuse what the real APIs refuse, or tests against them prove nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from soar.testing import FakeKeycloak, FakeKubernetes, FakeOkta, FakeWebhook, read_mutations
from soar.testing.__main__ import main as serve_main
from soar.testing.kubernetes import merge_patch

AP = "/apis/security.istio.io/v1/namespaces/istio-system/authorizationpolicies"


def _policy(name: str) -> dict[str, object]:
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": name}}


async def test_keycloak_admin_needs_a_token_from_valid_credentials(keycloak: FakeKeycloak) -> None:
    token_path = "/realms/bank/protocol/openid-connect/token"
    async with httpx.AsyncClient(base_url=keycloak.url) as client:
        assert (await client.get("/admin/realms/bank/users")).status_code == 401
        form = {"grant_type": "client_credentials", "client_id": "soar", "client_secret": "wrong"}
        assert (await client.post(token_path, data=form)).status_code == 401
        form["client_secret"] = "kc-very-secret-1"
        token = (await client.post(token_path, data=form)).json()["access_token"]
        users = await client.get("/admin/realms/bank/users", headers={"Authorization": f"Bearer {token}"})
        assert users.status_code == 200
        assert {u["username"] for u in users.json()} == {"alice", "mallory"}
        keycloak.expire_tokens()
        again = await client.get("/admin/realms/bank/users", headers={"Authorization": f"Bearer {token}"})
        assert again.status_code == 401
    logged = [r for r in keycloak.requests if r.path == token_path]
    assert all(r.body["client_secret"] == "***" for r in logged)


async def test_kubernetes_conflicts_not_found_and_patch_content_type(kubernetes: FakeKubernetes) -> None:
    headers = {"Authorization": "Bearer k8s-very-secret-3"}
    async with httpx.AsyncClient(base_url=kubernetes.url, headers=headers) as client:
        assert (await client.post(AP, json=_policy("p1"))).status_code == 201
        conflict = await client.post(AP, json=_policy("p1"))
        assert (conflict.status_code, conflict.json()["reason"]) == (409, "AlreadyExists")
        assert (await client.get(f"{AP}/p2")).json()["reason"] == "NotFound"
        assert (await client.delete(f"{AP}/p1")).status_code == 200
        assert (await client.delete(f"{AP}/p1")).status_code == 404
        pod = "/api/v1/namespaces/payments/pods/api-7d9f-x2"
        wrong = await client.patch(pod, json={"metadata": {"labels": {"x": "1"}}})
        assert wrong.status_code == 415
        assert (await client.post(AP, json={"kind": "Pod"})).status_code == 400
    assert kubernetes.mutations[("create_authorizationpolicy", "istio-system/p1")] == 1
    assert kubernetes.mutations[("delete_authorizationpolicy", "istio-system/p1")] == 1
    assert sum(kubernetes.mutations.values()) == 2


def test_merge_patch_follows_rfc_7386() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}}
    assert merge_patch(target, {"a": "z", "c": {"f": None}}) == {"a": "z", "c": {"d": "e"}}
    assert merge_patch({"a": [1]}, {"a": [2, 3]}) == {"a": [2, 3]}
    assert target == {"a": "b", "c": {"d": "e", "f": "g"}}  # the target is not changed in place


async def test_counters_and_log_are_readable_over_http(okta: FakeOkta) -> None:
    user_id = okta.user("bob@bank.example")["id"]
    async with httpx.AsyncClient(
        base_url=okta.url, headers={"Authorization": "SSWS okta-very-secret-2"}
    ) as client:
        await client.post(f"/api/v1/users/{user_id}/lifecycle/suspend")
        await client.post(f"/api/v1/users/{user_id}/lifecycle/suspend")  # refused: not ACTIVE any more
        log = (await client.get("/_fake/requests")).json()["requests"]
    assert await read_mutations(okta.url) == {("disable_user", "bob@bank.example"): 1}
    assert [entry["status"] for entry in log] == [200, 400]
    assert all(entry["headers"]["authorization"] == "SSWS ***" for entry in log)


async def test_injected_failures_come_before_any_change(keycloak: FakeKeycloak) -> None:
    keycloak.fail_next(1, status=500)
    async with httpx.AsyncClient(base_url=keycloak.url) as client:
        first = await client.get("/admin/realms/bank/users")
        second = await client.get("/admin/realms/bank/users")
    assert (first.status_code, second.status_code) == (500, 401)


async def test_webhook_refuses_bad_signatures(webhook: FakeWebhook) -> None:
    async with httpx.AsyncClient(base_url=webhook.url) as client:
        response = await client.post("/hooks/soar", content=b"{}", headers={"X-Soar-Signature": "sha256=00"})
    assert response.status_code == 401
    assert webhook.messages == []
    assert sum(webhook.mutations.values()) == 0


def test_seeding_from_a_document() -> None:
    fake = FakeKeycloak.from_seed(
        {
            "realm": "retail",
            "client_secret": "s",
            "users": [{"username": "Zoe", "sessions": 1}],
            "clients": [],
        }
    )
    assert fake.realm == "retail"
    assert fake.config["client_secret"] == "s"
    assert fake.user("zoe")["username"] == "zoe"
    pods = FakeKubernetes.from_seed({"token": None, "pods": [{"workload": "ns/p", "labels": {"a": "b"}}]})
    assert pods.token is None
    assert pods.pod("ns/p")["metadata"]["labels"] == {"a": "b"}
    with pytest.raises(RuntimeError, match="not started"):
        _ = pods.url


def test_serve_with_a_bad_seed_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("users:\n  - usernam: x\n")
    assert serve_main(["serve", "keycloak", "--seed", str(seed)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"{seed}: bad seed for keycloak:")
    assert "usernam" in error
    assert "\n" not in error
