"""Platform attack stories: the mesh (plaintext and foreign identities) and the Kubernetes control plane."""

from __future__ import annotations

from datetime import timedelta

from soar.telemetry.scenario.benign_platform import NAMESPACES, k8s_user, service_account
from soar.telemetry.scenario.envoy import HttpCall, emit_envoy
from soar.telemetry.scenario.flows import later
from soar.telemetry.scenario.ids import lower_alnum
from soar.telemetry.scenario.kubernetes import KUBECTL, ApiCall, K8sUser, emit_audit
from soar.telemetry.scenario.model import StoryTruth
from soar.telemetry.scenario.opa import emit_ext_authz
from soar.telemetry.scenario.recorder import Context, Trail
from soar.telemetry.scenario.story import StoryInfo, truth

LEDGER_NO_MTLS = StoryInfo(
    "ledger-call-without-mtls",
    "Plaintext calls to the ledger from an unidentified pod",
    "An engineer starts a debug pod in the payments namespace without a sidecar; it calls the ledger in "
    "plaintext (connection_security_policy none, no peer certificate) and the permissive ledger answers.",
    ("T1557", "T1599"),
)
FOREIGN_SPIFFE = StoryInfo(
    "unexpected-spiffe-identity",
    "Marketing analytics workload calls the ledger",
    "The marketing analytics workload (spiffe://bank.example/ns/marketing/sa/analytics) calls ledger "
    "endpoints; OPA ext_authz and the ledger's RBAC deny it, and it tries again on other paths.",
    ("T1078", "T1046"),
)
EXEC_ESCALATION = StoryInfo(
    "exec-into-core-banking-pod",
    "Exec into a core-banking pod, then cluster-admin for the same user",
    "An engineer's account execs a shell into a core-banking-adapter pod, reads a secret, then creates a "
    "ClusterRoleBinding that gives itself cluster-admin.",
    ("T1609", "T1098", "T1078.004"),
)
SECRETS_ENUM = StoryInfo(
    "secrets-enumeration",
    "A monitoring service account lists secrets across namespaces",
    "The metrics-exporter service account, whose token leaked, lists secrets namespace by namespace, "
    "then cluster-wide, and reads a few; some requests are forbidden.",
    ("T1552.007", "T1613"),
)


def ledger_without_mtls(ctx: Context) -> StoryTruth:
    """A debug pod without a sidecar calls the ledger in plaintext."""
    rng, trail, w = ctx.rng, Trail(), ctx.world
    engineer = rng.choice(w.employees)
    at = ctx.place(timedelta(minutes=20))
    pod, pod_ip = f"debug-shell-{lower_alnum(rng, 5)}", f"10.{rng.randint(16, 31)}.{rng.randint(0, 255)}.77"
    spec = {
        "kind": "Pod",
        "metadata": {"name": pod, "annotations": {"sidecar.istio.io/inject": "false"}},
        "spec": {"containers": [{"name": "shell", "image": "docker.io/nicolaka/netshoot:latest"}]},
    }
    emit_audit(
        ctx,
        at,
        k8s_user(ctx, engineer),
        ApiCall("create", "pods", "payments", pod, code=201, request_object=spec),
        trail,
    )
    at = later(at, ctx, 60, 180)
    ledger = w.workload("ledger")
    for i in range(ctx.scaled(8, minimum=4)):
        method, path = (
            ("GET", f"/ledger/v1/accounts/{rng.choice(w.customers).iban}/balance")
            if i % 3
            else ("POST", "/ledger/v1/postings")
        )
        call = HttpCall(
            method, path, 200 if method == "GET" else 201, ledger, "curl/8.11.0", peer_ip=pod_ip, mtls=False
        )
        emit_envoy(ctx, at, call, trail)
        at = later(at, ctx, 10, 90)
    return truth(
        LEDGER_NO_MTLS,
        trail,
        {"source.ip": pod_ip, "destination.workload": "ledger", "user.name": f"oidc:{engineer.login}"},
    )


def unexpected_spiffe(ctx: Context) -> StoryTruth:
    """A workload whose identity the ledger does not allow keeps trying ledger paths."""
    _rng, trail, w = ctx.rng, Trail(), ctx.world
    analytics, ledger = w.workload("analytics"), w.workload("ledger")
    at = ctx.place(timedelta(minutes=15))
    paths = (
        "/ledger/v1/postings?from=2026-01-01",
        "/ledger/v1/accounts",
        "/ledger/v1/export",
        "/ledger/v2/postings",
    )
    for i in range(ctx.scaled(8, minimum=4)):
        path = paths[i % len(paths)]
        emit_ext_authz(
            ctx, at, principal=analytics.spiffe, source_ip=analytics.ips[0], dest_principal=ledger.spiffe,
            method="GET", path=path, host=f"{ledger.service}:8080", headers={"user-agent": "analytics-etl/0.9"},
            allow=False, trail=trail,
        )  # fmt: skip
        call = HttpCall("GET", path, 403, ledger, "analytics-etl/0.9", peer=analytics, rbac_denied=True)
        emit_envoy(ctx, later(at, ctx, 0.002, 0.01), call, trail)
        at = later(at, ctx, 20, 150)
    return truth(
        FOREIGN_SPIFFE, trail, {"source.spiffe_id": analytics.spiffe, "destination.workload": "ledger"}
    )


def exec_escalation(ctx: Context) -> StoryTruth:
    """pods/exec into core banking by a person, a secret read, then a cluster-admin binding."""
    rng, trail, w = ctx.rng, Trail(), ctx.world
    emp = rng.choice(w.employees)
    user = K8sUser(
        f"oidc:{emp.login}",
        ("oidc:platform-engineers", "system:authenticated"),
        emp.okta_id,
        "203.0.113.45",
        KUBECTL,
    )
    pod = rng.choice(w.workload("core-banking-adapter").pods)
    at = ctx.place(timedelta(minutes=30))
    emit_audit(ctx, at, user, ApiCall("get", "pods", "core", pod), trail)
    query = "command=%2Fbin%2Fsh&container=adapter&stdin=true&stdout=true&tty=true"
    at = later(at, ctx, 5, 20)
    emit_audit(ctx, at, user, ApiCall("create", "pods", "core", pod, "exec", code=101, query=query), trail)
    at = later(at, ctx, 120, 600)
    emit_audit(ctx, at, user, ApiCall("get", "secrets", "core", "core-banking-db-credentials"), trail)
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "debug-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user.username}],
    }
    at = later(at, ctx, 60, 300)
    emit_audit(
        ctx,
        at,
        user,
        ApiCall("create", "clusterrolebindings", None, "debug-admin", code=201, request_object=binding),
        trail,
    )
    return truth(
        EXEC_ESCALATION,
        trail,
        {"user.name": user.username, "kubernetes.pod.name": pod, "source.ip": user.source_ip},
    )


def secrets_enumeration(ctx: Context) -> StoryTruth:
    """A service account lists secrets in every namespace, then everywhere, then reads some."""
    _rng, trail = ctx.rng, Trail()
    sa = service_account(
        "monitoring", "metrics-exporter", "10.24.7.90", "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46"
    )
    at = ctx.place(timedelta(minutes=10))
    for ns in NAMESPACES:
        code = 403 if ns in ("identity", "edge") else 200
        reason = (
            ""
            if code == 403
            else 'RBAC: allowed by ClusterRoleBinding "metrics-exporter-view" of ClusterRole "view-all" to ServiceAccount "metrics-exporter/monitoring"'
        )
        emit_audit(ctx, at, sa, ApiCall("list", "secrets", ns, code=code, reason=reason), trail)
        at = later(at, ctx, 1, 6)
    emit_audit(ctx, at, sa, ApiCall("list", "secrets", None, code=200), trail)
    for ns, name in (
        ("core", "core-banking-db-credentials"),
        ("payments", "payments-api-signing-key"),
        ("psd2", "qwac-client-cert"),
    ):
        at = later(at, ctx, 2, 10)
        emit_audit(ctx, at, sa, ApiCall("get", "secrets", ns, name), trail)
    return truth(
        SECRETS_ENUM,
        trail,
        {"user.name": sa.username, "source.ip": sa.source_ip},
    )
