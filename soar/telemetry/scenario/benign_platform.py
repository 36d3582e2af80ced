"""Benign workforce and platform traffic: employee Okta sign-ins and routine Kubernetes API requests."""

from __future__ import annotations

from datetime import datetime

from soar.telemetry.scenario.flows import OFFICE_CURVE, diurnal, later
from soar.telemetry.scenario.ids import hex_id, okta_id
from soar.telemetry.scenario.kubernetes import KUBECTL, ApiCall, K8sUser, emit_audit
from soar.telemetry.scenario.okta import OktaEvent, emit_okta, named_target, user_target
from soar.telemetry.scenario.recorder import Context
from soar.telemetry.scenario.world import Employee

APPS = (
    ("0oa1jira000000000001", "Jira"),
    ("0oa1k8s0000000000002", "Kubernetes"),
    ("0oa1graf000000000003", "Grafana"),
)
NAMESPACES = ("edge", "payments", "core", "accounts", "psd2", "identity", "branch", "marketing", "monitoring")
API_SERVER_IP = "10.0.0.1"


def okta_session(ctx: Context, emp: Employee, at: datetime | None = None) -> None:
    """An employee signs in (password, then MFA) and opens a few apps; sometimes mistypes first."""
    rng = ctx.rng
    at = at or diurnal(ctx, OFFICE_CURVE)
    session = f"102{hex_id(rng, 20)}"
    if rng.random() < 0.05:
        fail = OktaEvent(
            "user.session.start", "User login to Okta", emp, emp.ip, result="FAILURE",
            reason="INVALID_CREDENTIALS", legacy="core.user_auth.login_failed",
        )  # fmt: skip
        emit_okta(ctx, at, fail)
        at = later(at, ctx, 5, 30)
    emit_okta(
        ctx,
        at,
        OktaEvent("policy.evaluate_sign_on", "Evaluation of sign-on policy", emp, emp.ip, result="ALLOW"),
    )
    start = OktaEvent(
        "user.session.start",
        "User login to Okta",
        emp,
        emp.ip,
        session=session,
        legacy="core.user_auth.login_success",
    )
    emit_okta(ctx, later(at, ctx, 0.2, 1), start)
    mfa = OktaEvent(
        "user.authentication.auth_via_mfa", "Authentication of user via MFA", emp, emp.ip, session=session,
        step=1, legacy="core.user.factor.attempt_success",
    )  # fmt: skip
    emit_okta(ctx, later(at, ctx, 4, 15), mfa)
    _apps(ctx, later(at, ctx, 15, 60), emp, session)


def _apps(ctx: Context, at: datetime, emp: Employee, session: str) -> None:
    """Single sign-on to one to three apps, sometimes an OAuth2 refresh later."""
    rng = ctx.rng
    for app_id, app in rng.sample(APPS, rng.randint(1, 3)):
        sso = OktaEvent(
            "user.authentication.sso", f"User single sign on to app {app}", emp, emp.ip, session=session,
            targets=(named_target("AppInstance", app_id, app),), legacy="app.auth.sso",
        )  # fmt: skip
        emit_okta(ctx, at, sso)
        at = later(at, ctx, 60, 1800)
    if rng.random() < 0.3:
        grant = OktaEvent(
            "app.oauth2.token.grant.refresh_token", "OAuth2 refresh token is granted", emp, emp.ip, session=session,
            targets=(named_target("AppInstance", APPS[1][0], APPS[1][1]),),
        )  # fmt: skip
        emit_okta(ctx, later(at, ctx, 600, 3000), grant)


def okta_admin_routine(ctx: Context) -> None:
    """An Okta admin adds an employee to an ordinary group: benign admin noise."""
    admins = [e for e in ctx.world.employees if e.admin]
    admin, member = ctx.rng.choice(admins), ctx.rng.choice(ctx.world.employees)
    ev = OktaEvent(
        "group.user_membership.add", "Add user to group membership", admin, admin.ip,
        targets=(user_target(member), named_target("UserGroup", okta_id(ctx.rng, "00g"), "Jira-Users")),
        legacy="core.user_group_member.user_add",
    )  # fmt: skip
    emit_okta(ctx, diurnal(ctx, OFFICE_CURVE), ev)


def k8s_user(ctx: Context, emp: Employee) -> K8sUser:
    """The Kubernetes identity of an engineer signing in through Okta OIDC."""
    return K8sUser(
        f"oidc:{emp.login}", ("oidc:platform-engineers", "system:authenticated"), emp.okta_id, emp.ip, KUBECTL
    )


def service_account(namespace: str, name: str, ip: str, agent: str) -> K8sUser:
    """A service account's Kubernetes identity."""
    return K8sUser(
        f"system:serviceaccount:{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
        f"sa-{namespace}-{name}",
        ip,
        agent,
    )


_RS = service_account(
    "kube-system", "replicaset-controller", API_SERVER_IP, "kube-controller-manager/v1.31.2"
)
_ARGO = service_account(
    "argocd", "argocd-application-controller", "10.24.3.17", "argocd-application-controller/v2.13.1"
)
_PROM = service_account("monitoring", "prometheus", "10.24.7.41", "Prometheus/2.55.1")
_SCHED = K8sUser(
    "system:kube-scheduler",
    ("system:authenticated",),
    "kube-scheduler",
    API_SERVER_IP,
    "kube-scheduler/v1.31.2",
)


def _kubelet(node: str) -> K8sUser:
    return K8sUser(
        f"system:node:{node}", ("system:nodes", "system:authenticated"), node, "10.0.1.10", "kubelet/v1.31.2"
    )


def _controller_call(ctx: Context) -> tuple[K8sUser, ApiCall]:
    """One request of a controller, kubelet, scheduler or Prometheus."""
    rng, w = ctx.rng, ctx.world
    wl = rng.choice(list(w.workloads.values()))
    ns, kind = wl.namespace, rng.randrange(10)
    if kind < 3:
        calls = (
            ApiCall("get", "configmaps", ns, "kube-root-ca.crt"),
            ApiCall("get", "secrets", ns, f"{wl.service_account}-tls"),
            ApiCall("patch", "pods", ns, rng.choice(wl.pods), "status"),
        )
        return _kubelet(rng.choice(w.nodes)), calls[kind]
    if kind < 5:
        if kind == 3:
            return _RS, ApiCall("list", "pods", ns, query=f"labelSelector=app%3D{wl.name}")
        return _RS, ApiCall("update", "replicasets", ns, wl.pods[0].rsplit("-", 1)[0], "status")
    if kind < 7:
        if kind == 5:
            return _ARGO, ApiCall("get", "deployments", ns, wl.name)
        return _ARGO, ApiCall("watch", "deployments", None, query="watch=true")
    if kind < 9:
        return _PROM, ApiCall("list", "endpoints" if kind == 7 else "pods", None if kind == 7 else ns)
    return _SCHED, ApiCall("update", "leases", "kube-system", "kube-scheduler")


def k8s_background(ctx: Context) -> None:
    """One routine API request from a controller, kubelet, CI or an engineer, anywhere in the day."""
    rng = ctx.rng
    at = ctx.start + (ctx.end - ctx.start) * rng.random()
    if rng.random() < 0.04:
        emp = rng.choice(ctx.world.employees)
        wl = rng.choice(list(ctx.world.workloads.values()))
        call = rng.choice(
            (
                ApiCall("get", "pods", wl.namespace, wl.pods[0]),
                ApiCall("get", "pods", wl.namespace, wl.pods[0], "log"),
            )
        )
        emit_audit(ctx, at, k8s_user(ctx, emp), call)
        return
    if rng.random() < 0.01:
        _deploy(ctx, at)
        return
    user, call = _controller_call(ctx)
    emit_audit(ctx, at, user, call)


def _deploy(ctx: Context, at: datetime) -> None:
    """Argo CD rolls out a new image of a workload."""
    wl = ctx.rng.choice(list(ctx.world.workloads.values()))
    argo = _ARGO
    image = f"registry.bank.example/{wl.name}:1.{ctx.rng.randint(0, 40)}.{ctx.rng.randint(0, 9)}"
    patch = {"spec": {"template": {"spec": {"containers": [{"name": wl.name, "image": image}]}}}}
    emit_audit(ctx, at, argo, ApiCall("patch", "deployments", wl.namespace, wl.name, request_object=patch))
