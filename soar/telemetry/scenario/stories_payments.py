"""Payment attack stories: no MFA, no dual approval, a PSD2 provider outside its consent."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from soar.telemetry.scenario.app import AppEvent, emit_app
from soar.telemetry.scenario.benign_customers import PAYMENT_LIMIT_EUR, consent_id
from soar.telemetry.scenario.envoy import HttpCall, emit_envoy
from soar.telemetry.scenario.flows import Where, ingress, later, new_transaction_id, sign_in
from soar.telemetry.scenario.model import StoryTruth
from soar.telemetry.scenario.opa import PaymentInput, emit_ext_authz, emit_payment_decision, trace_id
from soar.telemetry.scenario.recorder import Context, Trail
from soar.telemetry.scenario.story import StoryInfo, truth

PAYMENT_WITHOUT_MFA = StoryInfo(
    "payment-without-mfa",
    "Payment completed without MFA through a legacy endpoint",
    "A session without a second factor is denied payment.create by OPA (mfa_required), retries through the "
    "legacy transfers endpoint whose policy input takes the batch channel, is allowed, and the payment "
    "completes with mfa false.",
    ("T1556", "T1078"),
)
ABOVE_LIMIT = StoryInfo(
    "payment-above-limit-without-dual-approval",
    "Payment above the limit approved by one person",
    "A branch clerk keys in a payment above the 15,000 EUR limit; OPA denies it for lack of dual approval, "
    "the clerk approves it alone with dual_approval false, OPA allows, and it completes with one approver.",
    ("T1078", "T1565.001"),
)
TPP_SCOPE = StoryInfo(
    "tpp-consent-scope-violation",
    "PSD2 provider initiates payments with a read-only consent",
    "A TPP whose consent scope is accounts:read calls the payment-initiation endpoint in a burst; the PSD2 "
    "gateway logs consent.used with a scope mismatch, and the burst exceeds its rate limit (429).",
    ("T1190", "T1078.004"),
)


def payment_without_mfa(ctx: Context) -> StoryTruth:
    """OPA denies a payment for missing MFA, then allows the same subject through another path."""
    rng, trail = ctx.rng, Trail()
    c = rng.choice(ctx.world.customers)
    where = Where.home(c)
    at = ctx.place(timedelta(minutes=10))
    sign_in(ctx, at, c, where, trail=trail)
    at = later(at, ctx, 20, 60)
    value, tx = round(rng.uniform(2_400, 4_900), 2), new_transaction_id(ctx)
    inp = PaymentInput(
        c.customer_id, ("customer",), False, "payment.create", value, c.customer_id, tx, c.channel, 0.62
    )
    emit_envoy(ctx, at, ingress(ctx, where, "POST", "/api/v1/payments", 403, "payments-api"), trail)
    emit_payment_decision(ctx, later(at, ctx, 0.01, 0.03), inp, False, ["mfa_required"], trail)
    base = AppEvent(
        "payments", "payment.rejected", tx, c.customer_id, c.country, c.channel, outcome="failure", amount=value,
        error_code="MFA_REQUIRED", mfa=False, risk_score=0.62, user_id=c.user_id, source_ip=where.ip,
        trace_id=trace_id(ctx), http_status=403, latency_ms=rng.randint(20, 50),
    )  # fmt: skip
    emit_app(ctx, later(at, ctx, 0.03, 0.05), base, trail)
    at, tx2 = later(at, ctx, 30, 90), new_transaction_id(ctx)
    _legacy_transfer(ctx, at, where, replace(inp, channel="batch", transaction_id=tx2), base, trail)
    return truth(
        PAYMENT_WITHOUT_MFA,
        trail,
        {"user.name": c.username, "customer.id": c.customer_id, "source.ip": where.ip, "transaction.id": tx2},
    )


def _legacy_transfer(
    ctx: Context, at: datetime, where: Where, legacy: PaymentInput, base: AppEvent, trail: Trail
) -> None:
    """The retry through the legacy endpoint: OPA allows it, the payment completes without MFA."""
    w, tx2 = ctx.world, legacy.transaction_id
    emit_envoy(
        ctx, at, ingress(ctx, where, "POST", "/api/v0/transfers?mode=batch", 201, "payments-api"), trail
    )
    emit_payment_decision(ctx, later(at, ctx, 0.01, 0.03), legacy, True, [], trail)
    ok = replace(base, transaction_id=tx2, channel="batch", error_code=None, trace_id=trace_id(ctx))
    emit_app(
        ctx,
        later(at, ctx, 0.03, 0.05),
        replace(ok, msg="payment.authorized", outcome="success", http_status=200),
        trail,
    )
    ledger = HttpCall(
        "POST",
        "/ledger/v1/postings",
        201,
        w.workload("ledger"),
        "payments-api/5.8.1",
        peer=w.workload("payments-api"),
    )
    emit_envoy(ctx, later(at, ctx, 0.05, 0.08), ledger, trail)
    emit_app(
        ctx,
        later(at, ctx, 0.1, 0.2),
        replace(ok, msg="payment.completed", outcome="success", http_status=201),
        trail,
    )


def above_limit_single_approver(ctx: Context) -> StoryTruth:
    """A payment above the limit is denied without dual approval, then allowed with one approver."""
    rng, trail, w = ctx.rng, Trail(), ctx.world
    c, clerk = rng.choice(w.customers), rng.choice(w.employees)
    at = ctx.place(timedelta(minutes=10))
    value, tx = round(rng.uniform(2.5, 5) * PAYMENT_LIMIT_EUR, 2), new_transaction_id(ctx)
    portal, payments = w.workload("branch-portal"), w.workload("payments-api")
    call = HttpCall("POST", "/api/v1/payments", 403, payments, "branch-portal/2.3.0", peer=portal)
    emit_envoy(ctx, at, call, trail)
    inp = PaymentInput(
        clerk.login, ("branch-clerk",), True, "payment.create", value, c.customer_id, tx, "branch", 0.31
    )
    emit_payment_decision(ctx, later(at, ctx, 0.01, 0.03), inp, False, ["dual_approval_required"], trail)
    base = AppEvent(
        "payments", "payment.initiated", tx, c.customer_id, c.country, "branch", outcome="pending", amount=value,
        mfa=True, risk_score=0.31, approval=(True, ()), user_id=clerk.login, trace_id=trace_id(ctx),
        http_status=202, latency_ms=rng.randint(30, 80),
    )  # fmt: skip
    emit_app(ctx, later(at, ctx, 0.03, 0.06), base, trail)
    at = later(at, ctx, 60, 240)
    emit_envoy(ctx, at, replace(call, path=f"/api/v1/payments/{tx}/approve", status=200), trail)
    approve = replace(inp, action="payment.approve", approvers=(clerk.login,))
    emit_payment_decision(ctx, later(at, ctx, 0.01, 0.03), approve, True, [], trail)
    one = replace(base, approval=(True, (clerk.login,)), http_status=200)
    emit_app(
        ctx, later(at, ctx, 0.03, 0.06), replace(one, msg="payment.authorized", outcome="success"), trail
    )
    ledger = HttpCall(
        "POST", "/ledger/v1/postings", 201, w.workload("ledger"), "payments-api/5.8.1", peer=payments
    )
    emit_envoy(ctx, later(at, ctx, 0.06, 0.09), ledger, trail)
    emit_app(
        ctx,
        later(at, ctx, 0.1, 0.3),
        replace(one, msg="payment.completed", outcome="success", http_status=201),
        trail,
    )
    return truth(
        ABOVE_LIMIT, trail, {"user.name": clerk.login, "customer.id": c.customer_id, "transaction.id": tx}
    )


def tpp_scope_violation(ctx: Context) -> StoryTruth:
    """A read-only TPP bursts payment initiations: scope mismatches, then rate limiting."""
    rng, trail, w = ctx.rng, Trail(), ctx.world
    tpp = next(t for t in w.tpps if t.scope == ("accounts:read",))
    at = ctx.place(timedelta(minutes=10))
    where = Where(tpp.ip, tpp.country, f"{tpp.name.split()[0]}-psd2-client/1.4")
    gw, psd2 = w.workload("istio-ingressgateway"), w.workload("psd2-tpp-gateway")
    path = "/psd2/v1/payments/sepa-credit-transfers"
    for i in range(ctx.scaled(60, minimum=25)):
        c = rng.choice(w.customers)
        limited = i >= 20  # the gateway's local rate limit: 20 payment initiations per TPP per 10 minutes
        emit_envoy(
            ctx,
            at,
            replace(
                ingress(ctx, where, "POST", path, 429 if limited else 403, "psd2-tpp-gateway"),
                flags="RL" if limited else "-",
            ),
            trail,
        )
        if not limited:
            emit_ext_authz(
                ctx, later(at, ctx, 0.001, 0.004), principal=gw.spiffe, source_ip=gw.ips[0], dest_principal=psd2.spiffe,
                method="POST", path=path, host="psd2.bank.example",
                headers={"tpp-client-id": tpp.client_id, "consent-id": consent_id(tpp, c)}, allow=True, trail=trail,
            )  # fmt: skip
            ev = AppEvent(
                "psd2-gateway", "consent.used", None, c.customer_id, c.country, "psd2_api", outcome="failure",
                amount=round(rng.uniform(200, 2_000), 2), tpp_client_id=tpp.client_id, consent_id=consent_id(tpp, c),
                consent_scope=tpp.scope, error_code="CONSENT_SCOPE_MISMATCH", source_ip=tpp.ip,
                trace_id=trace_id(ctx), http_status=403, latency_ms=rng.randint(10, 40),
            )  # fmt: skip
            emit_app(ctx, later(at, ctx, 0.01, 0.03), ev, trail)
        at = later(at, ctx, 1, 8)
    return truth(TPP_SCOPE, trail, {"tpp.client_id": tpp.client_id, "source.ip": tpp.ip})
