"""The payments availability incident: failures for part of the customers for about 2.5 hours, with DORA figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from soar.telemetry.scenario.app import AppEvent, emit_app
from soar.telemetry.scenario.benign_customers import amount
from soar.telemetry.scenario.envoy import HttpCall, emit_envoy
from soar.telemetry.scenario.flows import Where, ingress, later, new_transaction_id
from soar.telemetry.scenario.model import StoryTruth
from soar.telemetry.scenario.opa import trace_id
from soar.telemetry.scenario.recorder import Context, Trail
from soar.telemetry.scenario.story import StoryInfo, truth
from soar.telemetry.scenario.world import Customer

OUTAGE = timedelta(minutes=150)
INCIDENT = StoryInfo(
    "payments-availability-incident",
    "Payments unavailable for part of the customers for 2.5 hours",
    "A faulty ledger shard makes payments fail with 503 (envoy flags UF/URX, app payment.failed "
    "LEDGER_UNAVAILABLE) for customers whose accounts live on it, across several Member States, for about "
    "150 minutes. The figures are the DORA ground truth: clients and transactions affected, their value, "
    "downtime and Member States.",
    ("T1499",),
)


def _attempt(ctx: Context, at_offset: float, c: Customer, trail: Trail, start: float) -> tuple[str, float]:
    """One failed payment (with the app's retry toward the ledger); returns its transaction and amount."""
    rng, w = ctx.rng, ctx.world
    at = ctx.start + timedelta(seconds=start + at_offset)
    where, tx, value = Where.home(c), new_transaction_id(ctx), amount(ctx)
    flags = rng.choice(("UF", "URX"))
    gateway = replace(
        ingress(ctx, where, "POST", "/api/v1/payments", 503, "payments-api"), flags="-", duration_ms=3_000
    )
    emit_envoy(ctx, at, gateway, trail)
    base = AppEvent(
        "payments", "payment.initiated", tx, c.customer_id, c.country, c.channel, outcome="pending", amount=value,
        mfa=True, risk_score=0.08, user_id=c.user_id, source_ip=where.ip, trace_id=trace_id(ctx), http_status=202,
        latency_ms=rng.randint(20, 60),
    )  # fmt: skip
    emit_app(ctx, later(at, ctx, 0.01, 0.03), base, trail)
    for retry in range(2):
        call = HttpCall(
            "POST", "/ledger/v1/postings", 503, w.workload("ledger"), "payments-api/5.8.1",
            peer=w.workload("payments-api"), flags=flags, duration_ms=1_000 + retry,
        )  # fmt: skip
        emit_envoy(ctx, later(at, ctx, 0.05 + retry, 0.9 + retry), call, trail)
    failed = replace(
        base, msg="payment.failed", outcome="failure", error_code="LEDGER_UNAVAILABLE", http_status=503,
        latency_ms=rng.randint(2_000, 3_000),
    )  # fmt: skip
    emit_app(ctx, later(at, ctx, 2.5, 3.0), failed, trail)
    return tx, value


def payments_incident(ctx: Context) -> StoryTruth:
    """Failed payments of the customers on the faulty shard during the outage, and the DORA figures."""
    rng, trail = ctx.rng, Trail()
    begin = (ctx.place(OUTAGE, margin=timedelta(hours=1)) - ctx.start).total_seconds()
    shard = [c for c in ctx.world.customers if int(c.customer_id[-2:]) % 4 == 0]
    affected = rng.sample(shard, min(len(shard), ctx.scaled(420, minimum=30)))
    seconds = OUTAGE.total_seconds() - 10
    transactions: dict[str, float] = {}
    # The first and the last failures mark the outage's edges, so downtime is what the logs show.
    offsets = sorted([0.0, seconds] + [rng.uniform(0, seconds) for _ in range(len(affected) * 3 // 2 - 2)])
    for i, offset in enumerate(offsets):
        c = affected[i] if i < len(affected) else rng.choice(affected)
        tx, value = _attempt(ctx, offset, c, trail, begin)
        transactions[tx] = value
    clients = {c.customer_id for c in affected}
    figures: dict[str, float | int | list[str]] = {
        "clients_affected": len(clients),
        "transactions_affected": len(transactions),
        "transaction_value_affected_eur": round(sum(transactions.values()), 2),
        "downtime_minutes": round(OUTAGE.total_seconds() / 60),
        "member_states": sorted({c.country for c in affected}),
    }
    entities = {
        "service.name": "payments",
        "destination.workload": "ledger",
        "error.code": "LEDGER_UNAVAILABLE",
    }
    return truth(INCIDENT, trail, entities, figures)
