"""OPA decision-log records: payment authorisation and Envoy ext_authz decisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from soar.telemetry.scenario.ids import hex_id, ts_nanos, uuid_like
from soar.telemetry.scenario.recorder import Context, Trail
from soar.telemetry.sources import Source

PAYMENTS_PATH = "payments/authz/allow"
ENVOY_PATH = "envoy/authz/allow"
PAYMENTS_REVISION = "payments-2026.11.20-3f9c2a1"
ENVOY_REVISION = "mesh-2026.11.18-b71e04d"
OPA_INSTANCE = "7c2b3f0e-5d1a-4e8b-9f60-2a4c8e1d9b37"


@dataclass(frozen=True)
class PaymentInput:
    """The input the payments service sends OPA before it creates or approves a payment."""

    subject: str
    roles: tuple[str, ...]
    mfa: bool
    action: str
    amount: float
    customer_id: str
    transaction_id: str
    channel: str
    risk_score: float
    dual_approval: bool = False
    approvers: tuple[str, ...] = ()


def _envelope(ctx: Context, at: datetime, path: str, revision: str) -> dict[str, Any]:
    rng = ctx.rng
    return {
        "decision_id": uuid_like(rng),
        "path": path,
        "timestamp": ts_nanos(at),
        "labels": {"id": OPA_INSTANCE, "version": "0.70.0"},
        "bundles": {"payments" if path == PAYMENTS_PATH else "mesh": {"revision": revision}},
        "metrics": {
            "timer_rego_query_eval_ns": rng.randint(40_000, 400_000),
            "timer_server_handler_ns": rng.randint(200_000, 1_500_000),
        },
        "req_id": rng.randint(1, 10_000_000),
    }


def emit_payment_decision(
    ctx: Context,
    at: datetime,
    inp: PaymentInput,
    allow: bool,
    reasons: list[str],
    trail: Trail | None = None,
) -> str:
    """Write one ``payments/authz/allow`` decision; returns its ``decision_id``."""
    at = ctx.clamp(at)
    rec = _envelope(ctx, at, PAYMENTS_PATH, PAYMENTS_REVISION)
    rec["input"] = {
        "subject": {"user": inp.subject, "roles": list(inp.roles), "mfa": inp.mfa},
        "action": inp.action,
        "resource": {
            "type": "payment",
            "amount": inp.amount,
            "currency": "EUR",
            "customer_id": inp.customer_id,
            "transaction_id": inp.transaction_id,
        },
        "context": {
            "risk_score": inp.risk_score,
            "dual_approval": inp.dual_approval,
            "approvers": list(inp.approvers),
            "channel": inp.channel,
        },
    }
    rec["result"] = {"allow": allow, "reasons": reasons}
    return ctx.emit(Source.OPA, at, rec, trail)


def emit_ext_authz(
    ctx: Context,
    at: datetime,
    *,
    principal: str,
    source_ip: str,
    dest_principal: str,
    method: str,
    path: str,
    host: str,
    headers: dict[str, str],
    allow: bool,
    trail: Trail | None = None,
) -> str:
    """Write one ``envoy/authz/allow`` decision for an ext_authz check; returns its ``decision_id``."""
    at = ctx.clamp(at)
    rec = _envelope(ctx, at, ENVOY_PATH, ENVOY_REVISION)
    rec["input"] = _ext_authz_input(ctx, principal, source_ip, dest_principal, method, path, host, headers)
    rec["result"] = allow
    return ctx.emit(Source.OPA, at, rec, trail)


def _ext_authz_input(
    ctx: Context,
    principal: str,
    source_ip: str,
    dest_principal: str,
    method: str,
    path: str,
    host: str,
    headers: dict[str, str],
) -> dict[str, Any]:
    """The CheckRequest input Envoy's ext_authz filter sends OPA."""
    rng = ctx.rng
    return {
        "attributes": {
            "source": {
                "principal": principal,
                "address": {"socketAddress": {"address": source_ip, "portValue": rng.randint(32768, 60999)}},
            },
            "destination": {
                "principal": dest_principal,
                "address": {"socketAddress": {"address": "10.16.0.5", "portValue": 8080}},
            },
            "request": {
                "http": {
                    "id": str(rng.getrandbits(63)),
                    "method": method,
                    "path": path,
                    "host": host,
                    "protocol": "HTTP/1.1",
                    "headers": {":method": method, ":path": path, ":authority": host, **headers},
                }
            },
        },
        "parsed_path": [p for p in path.split("?")[0].split("/") if p],
        "truncated_body": False,
    }


def trace_id(ctx: Context) -> str:
    """A W3C trace id (32 hex digits) shared by the records of one request chain."""
    return hex_id(ctx.rng, 32)
