"""Benign customer-facing traffic: banking sessions, branch payments with dual approval, TPP calls."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from soar.telemetry.scenario.app import AppEvent, emit_app
from soar.telemetry.scenario.envoy import HttpCall, emit_envoy
from soar.telemetry.scenario.flows import (
    TOKEN_PATH,
    Payment,
    Where,
    account_view,
    diurnal,
    ingress,
    later,
    new_transaction_id,
    pay,
    sign_in,
)
from soar.telemetry.scenario.keycloak import CLIENTS, user_event
from soar.telemetry.scenario.opa import PaymentInput, emit_ext_authz, emit_payment_decision, trace_id
from soar.telemetry.scenario.recorder import Context
from soar.telemetry.scenario.world import Customer, Tpp

PAYMENT_LIMIT_EUR = 15_000.0
TPP_PATHS = {
    "accounts:read": ("GET", "/psd2/v1/accounts", "accounts-api", "account.viewed"),
    "balances:read": ("GET", "/psd2/v1/accounts/{iban}/balances", "accounts-api", "account.viewed"),
    "transactions:read": ("GET", "/psd2/v1/accounts/{iban}/transactions", "accounts-api", "account.viewed"),
    "payments:initiate": (
        "POST",
        "/psd2/v1/payments/sepa-credit-transfers",
        "payments-api",
        "payment.initiated",
    ),
}


def amount(ctx: Context) -> float:
    """A everyday payment amount in EUR: mostly tens to hundreds, rarely thousands."""
    return round(min(9_000.0, ctx.rng.lognormvariate(4.0, 1.1)), 2)


def customer_session(ctx: Context) -> None:
    """One customer session: sign in, look at accounts, maybe pay, maybe refresh and sign out."""
    rng = ctx.rng
    c = rng.choice(ctx.world.customers)
    where = Where.home(c)
    at = diurnal(ctx)
    session = sign_in(ctx, at, c, where, wrong_first=rng.random() < 0.04)
    at = later(at, ctx, 2, 10)
    for _ in range(rng.choice((1, 1, 2, 3))):
        account_view(ctx, at, c, where)
        at = later(at, ctx, 5, 90)
    if rng.random() < 0.55:
        if rng.random() < 0.04:
            _rejected_payment(ctx, at, c, where)
        else:
            pay(ctx, at, Payment(c, where, amount(ctx), new_transaction_id(ctx), risk_score=_risk(ctx)))
        at = later(at, ctx, 5, 60)
    if rng.random() < 0.06:
        emit_envoy(ctx, at, ingress(ctx, where, "GET", "/api/v1/offers/savings-plan", 404, "accounts-api"))
    client = CLIENTS[c.channel]
    if rng.random() < 0.3:
        at = later(at, ctx, 240, 600)
        emit_envoy(ctx, at, ingress(ctx, where, "POST", TOKEN_PATH, 200, "keycloak"))
        user_event(
            ctx, at, "REFRESH_TOKEN", client=client, username=c.username, ip=where.ip, user_id=c.user_id,
            session_id=session,
        )  # fmt: skip
    if rng.random() < 0.4:
        user_event(
            ctx, later(at, ctx, 30, 300), "LOGOUT", client=client, username=c.username, ip=where.ip,
            user_id=c.user_id, session_id=session,
        )  # fmt: skip
    if rng.random() < 0.01:
        user_event(
            ctx, later(at, ctx, 5, 30), rng.choice(("UPDATE_TOTP", "UPDATE_PASSWORD")), client="account-console",
            username=c.username, ip=where.ip, user_id=c.user_id, session_id=session,
        )  # fmt: skip


def _risk(ctx: Context) -> float:
    return round(ctx.rng.betavariate(1.5, 12), 3)


def _rejected_payment(ctx: Context, at: datetime, c: Customer, where: Where) -> None:
    """A payment the core refuses for lack of funds: a benign failure."""
    tx = new_transaction_id(ctx)
    value = amount(ctx)
    emit_envoy(ctx, at, ingress(ctx, where, "POST", "/api/v1/payments", 422, "payments-api"))
    base = AppEvent(
        "payments", "payment.initiated", tx, c.customer_id, c.country, c.channel, outcome="pending",
        amount=value, mfa=True, risk_score=_risk(ctx), user_id=c.user_id, source_ip=where.ip,
        trace_id=trace_id(ctx), http_status=202, latency_ms=ctx.rng.randint(20, 60),
    )  # fmt: skip
    emit_app(ctx, later(at, ctx, 0.01, 0.03), base, None)
    rejected = replace(base, msg="payment.rejected", outcome="failure", error_code="INSUFFICIENT_FUNDS")
    emit_app(ctx, later(at, ctx, 0.05, 0.1), replace(rejected, http_status=422), None)


def branch_payment(ctx: Context) -> None:
    """A large payment keyed in at a branch and approved by two employees, as the policy requires."""
    rng, w = ctx.rng, ctx.world
    c = rng.choice(w.customers)
    clerk, *approvers = rng.sample(w.employees, 3)
    at = diurnal(ctx)
    value = round(rng.uniform(PAYMENT_LIMIT_EUR + 500, 80_000), 2)
    tx, names = new_transaction_id(ctx), tuple(a.login for a in approvers)
    portal = w.workload("branch-portal")
    call = HttpCall(
        "POST", "/api/v1/payments", 201, w.workload("payments-api"), "branch-portal/2.3.0", peer=portal
    )
    emit_envoy(ctx, at, call)
    inp = PaymentInput(
        clerk.login, ("branch-clerk",), True, "payment.approve", value, c.customer_id, tx, "branch",
        0.05, dual_approval=True, approvers=names,
    )  # fmt: skip
    emit_payment_decision(ctx, later(at, ctx, 0.02, 0.05), inp, True, [])
    ev = AppEvent(
        "payments", "payment.authorized", tx, c.customer_id, c.country, "branch", amount=value, mfa=True,
        risk_score=0.05, approval=(True, names), user_id=clerk.login, trace_id=trace_id(ctx), http_status=200,
        latency_ms=rng.randint(30, 90),
    )  # fmt: skip
    emit_app(ctx, later(at, ctx, 0.05, 0.08), ev)
    emit_app(ctx, later(at, ctx, 0.1, 0.3), replace(ev, msg="payment.completed", http_status=201))


def consent_id(tpp: Tpp, c: Customer) -> str:
    """The consent a customer gave a TPP: stable per pair, so it repeats across calls."""
    return f"cns-{tpp.client_id[-6:].lower()}-{c.customer_id[-7:]}"


def tpp_call(ctx: Context, tpp: Tpp | None = None, at: datetime | None = None) -> None:
    """A TPP call within its consent scope: gateway, ext_authz allow, the backend, the app log."""
    rng, w = ctx.rng, ctx.world
    tpp = tpp or rng.choice(w.tpps)
    c = rng.choice(w.customers)
    at = at or diurnal(ctx)
    method, path, backend, msg = TPP_PATHS[rng.choice(tpp.scope)]
    path = path.format(iban=c.iban)
    where = Where(tpp.ip, tpp.country, f"{tpp.name.split()[0]}-psd2-client/1.4")
    status = 201 if method == "POST" else 200
    emit_envoy(ctx, at, ingress(ctx, where, method, path, status, "psd2-tpp-gateway"))
    gw, psd2 = w.workload("istio-ingressgateway"), w.workload("psd2-tpp-gateway")
    emit_ext_authz(
        ctx, later(at, ctx, 0.001, 0.004), principal=gw.spiffe, source_ip=gw.ips[0], dest_principal=psd2.spiffe,
        method=method, path=path, host="psd2.bank.example",
        headers={"tpp-client-id": tpp.client_id, "consent-id": consent_id(tpp, c)}, allow=True,
    )  # fmt: skip
    call = HttpCall(
        method,
        path.replace("/psd2", "/api"),
        status,
        w.workload(backend),
        "psd2-tpp-gateway/1.9.2",
        peer=psd2,
    )
    emit_envoy(ctx, later(at, ctx, 0.005, 0.02), call)
    base = AppEvent(
        "psd2-gateway", "consent.used", None, c.customer_id, c.country, "psd2_api", tpp_client_id=tpp.client_id,
        consent_id=consent_id(tpp, c), consent_scope=tpp.scope, source_ip=tpp.ip, trace_id=trace_id(ctx),
        http_status=status, latency_ms=rng.randint(25, 140),
    )  # fmt: skip
    emit_app(ctx, later(at, ctx, 0.02, 0.05), base)
    if msg == "payment.initiated":
        tx = new_transaction_id(ctx)
        paid = replace(
            base, service="payments", msg="payment.completed", transaction_id=tx, amount=amount(ctx)
        )
        emit_app(
            ctx, later(at, ctx, 0.1, 0.3), replace(paid, mfa=True, risk_score=_risk(ctx), http_status=201)
        )
