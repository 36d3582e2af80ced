"""Multi-source request chains shared by benign traffic and stories: sign-in, account view, payment."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from soar.telemetry.scenario.app import AppEvent, emit_app
from soar.telemetry.scenario.envoy import HttpCall, emit_envoy
from soar.telemetry.scenario.ids import hex_id, uuid_like
from soar.telemetry.scenario.keycloak import CLIENTS, REALM, user_event
from soar.telemetry.scenario.opa import PaymentInput, emit_payment_decision, trace_id
from soar.telemetry.scenario.recorder import Context, Trail
from soar.telemetry.scenario.world import Customer

# Customer traffic by hour of day (UTC), relative: quiet nights, a lunch peak and an evening peak.
CUSTOMER_CURVE = (1, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 11, 12, 11, 10, 10, 10, 11, 12, 13, 11, 8, 5, 2)
OFFICE_CURVE = (0, 0, 0, 0, 0, 1, 4, 10, 12, 12, 11, 9, 10, 11, 11, 10, 7, 4, 2, 1, 0, 0, 0, 0)
TOKEN_PATH = f"/realms/{REALM}/protocol/openid-connect/token"
AUTH_PATH = f"/realms/{REALM}/login-actions/authenticate"


def diurnal(ctx: Context, curve: tuple[int, ...] = CUSTOMER_CURVE) -> datetime:
    """An instant of the window drawn from an hourly weight curve stretched over the window."""
    hour = ctx.rng.choices(range(24), weights=curve)[0]
    fraction = (hour + ctx.rng.random()) / 24
    return ctx.start + (ctx.end - ctx.start) * fraction


def later(at: datetime, ctx: Context, low: float, high: float) -> datetime:
    """``at`` plus a random number of seconds in [low, high]."""
    return at + timedelta(seconds=ctx.rng.uniform(low, high))


@dataclass(frozen=True)
class Where:
    """Where a customer is connecting from for this session."""

    ip: str
    country: str
    user_agent: str

    @classmethod
    def home(cls, customer: Customer) -> Where:
        """The customer's usual address, country and device."""
        return cls(customer.ip, customer.country, customer.user_agent)


def ingress(ctx: Context, where: Where, method: str, path: str, status: int, dest: str) -> HttpCall:
    """An external request through the ingress gateway to workload ``dest``."""
    return HttpCall(
        method=method,
        path=path,
        status=status,
        dest=ctx.world.workload(dest),
        user_agent=where.user_agent,
        client_ip=where.ip,
        country=where.country,
        bytes_received=ctx.rng.randint(200, 1800),
    )


def sign_in(
    ctx: Context,
    at: datetime,
    c: Customer,
    where: Where,
    *,
    wrong_first: bool = False,
    trail: Trail | None = None,
) -> str:
    """Keycloak sign-in of a customer (optionally one wrong password first); returns the session id."""
    client = CLIENTS[c.channel if c.channel in CLIENTS else "web"]
    if wrong_first:
        emit_envoy(ctx, at, ingress(ctx, where, "POST", AUTH_PATH, 200, "keycloak"), trail)
        user_event(
            ctx, at, "LOGIN_ERROR", client=client, username=c.username, ip=where.ip, user_id=c.user_id,
            session_id=None, error="invalid_user_credentials", trail=trail,
        )  # fmt: skip
        at = later(at, ctx, 8, 40)
    session = _session_id(ctx)
    emit_envoy(ctx, at, ingress(ctx, where, "POST", AUTH_PATH, 302, "keycloak"), trail)
    user_event(
        ctx, at, "LOGIN", client=client, username=c.username, ip=where.ip, user_id=c.user_id,
        session_id=session, trail=trail,
    )  # fmt: skip
    at = later(at, ctx, 0.2, 1.5)
    emit_envoy(ctx, at, ingress(ctx, where, "POST", TOKEN_PATH, 200, "keycloak"), trail)
    user_event(
        ctx, at, "CODE_TO_TOKEN", client=client, username=c.username, ip=where.ip, user_id=c.user_id,
        session_id=session, trail=trail,
    )  # fmt: skip
    return session


def _session_id(ctx: Context) -> str:
    return uuid_like(ctx.rng)


def account_view(ctx: Context, at: datetime, c: Customer, where: Where, trail: Trail | None = None) -> None:
    """The customer opens an account: gateway -> accounts-api -> core-banking-adapter, app log."""
    w = ctx.world
    path = (
        f"/api/v1/accounts/{c.iban}/transactions" if ctx.rng.random() < 0.4 else f"/api/v1/accounts/{c.iban}"
    )
    emit_envoy(ctx, at, ingress(ctx, where, "GET", path, 200, "accounts-api"), trail)
    if ctx.rng.random() < 0.5:
        call = HttpCall(
            "GET", f"/cba/v2/accounts/{c.iban}", 200, w.workload("core-banking-adapter"), "accounts-api/3.2.0",
            peer=w.workload("accounts-api"), peer_ip=ctx.rng.choice(w.workload("accounts-api").ips),
        )  # fmt: skip
        emit_envoy(ctx, later(at, ctx, 0.005, 0.05), call, trail)
    ev = AppEvent(
        "accounts", "account.viewed", None, c.customer_id, c.country, c.channel, user_id=c.user_id,
        source_ip=where.ip, trace_id=trace_id(ctx), http_status=200, latency_ms=ctx.rng.randint(15, 120),
    )  # fmt: skip
    emit_app(ctx, later(at, ctx, 0.01, 0.1), ev, trail)


@dataclass(frozen=True)
class Payment:
    """A customer payment as the chain sees it."""

    customer: Customer
    where: Where
    amount: float
    transaction_id: str
    mfa: bool = True
    risk_score: float = 0.1
    path: str = "/api/v1/payments"


def new_transaction_id(ctx: Context) -> str:
    """A payment's transaction id, ``tx-`` and 20 hex digits."""
    return f"tx-{hex_id(ctx.rng, 20)}"


def pay(ctx: Context, at: datetime, p: Payment, trail: Trail | None = None) -> datetime:
    """A successful payment: gateway, OPA allow, ledger posting, three app lines; returns when it ended."""
    c, w, tid = p.customer, ctx.world, trace_id(ctx)
    emit_envoy(
        ctx, at, replace(ingress(ctx, p.where, "POST", p.path, 201, "payments-api"), duration_ms=180), trail
    )
    base = AppEvent(
        "payments", "payment.initiated", p.transaction_id, c.customer_id, c.country, c.channel,
        outcome="pending", amount=p.amount, mfa=p.mfa, risk_score=p.risk_score, user_id=c.user_id,
        source_ip=p.where.ip, trace_id=tid, http_status=202, latency_ms=ctx.rng.randint(20, 60),
    )  # fmt: skip
    emit_app(ctx, later(at, ctx, 0.01, 0.03), base, trail)
    inp = PaymentInput(
        c.customer_id, ("customer",), p.mfa, "payment.create", p.amount, c.customer_id, p.transaction_id,
        c.channel, p.risk_score,
    )  # fmt: skip
    emit_payment_decision(ctx, later(at, ctx, 0.03, 0.05), inp, True, [], trail)
    emit_app(ctx, later(at, ctx, 0.05, 0.07), replace(base, msg="payment.authorized", http_status=200), trail)
    ledger = HttpCall(
        "POST", "/ledger/v1/postings", 201, w.workload("ledger"), "payments-api/5.8.1",
        peer=w.workload("payments-api"), bytes_received=ctx.rng.randint(400, 900),
    )  # fmt: skip
    emit_envoy(ctx, later(at, ctx, 0.07, 0.09), ledger, trail)
    end = later(at, ctx, 0.12, 0.25)
    done = replace(base, msg="payment.completed", outcome="success", http_status=201)
    emit_app(ctx, end, done, trail)
    return end
