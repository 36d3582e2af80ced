"""Payment-application log records: one JSON object per line with a unique ``event_id``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from soar.telemetry.scenario.ids import ts_millis, uuid_like
from soar.telemetry.scenario.recorder import Context, Trail
from soar.telemetry.sources import Source

_LEVELS = {"success": "INFO", "pending": "INFO", "failure": "WARN"}


@dataclass(frozen=True)
class AppEvent:
    """One application log line; fields not set are written as null."""

    service: str
    msg: str
    transaction_id: str | None
    customer_id: str | None
    customer_country: str | None
    channel: str
    outcome: str = "success"
    amount: float | None = None
    currency: str | None = "EUR"
    tpp_client_id: str | None = None
    consent_id: str | None = None
    consent_scope: tuple[str, ...] | None = None
    error_code: str | None = None
    mfa: bool | None = None
    risk_score: float | None = None
    approval: tuple[bool, tuple[str, ...]] | None = None
    user_id: str | None = None
    source_ip: str | None = None
    trace_id: str | None = None
    http_status: int | None = None
    latency_ms: float | None = None
    level: str | None = None


def emit_app(ctx: Context, at: datetime, ev: AppEvent, trail: Trail | None = None) -> str:
    """Write one application log line; returns its ``event_id``."""
    at = ctx.clamp(at)
    approval = (
        None if ev.approval is None else {"required": ev.approval[0], "approvers": list(ev.approval[1])}
    )
    rec: dict[str, Any] = {
        "event_id": f"evt-{uuid_like(ctx.rng)}",
        "ts": ts_millis(at),
        "level": ev.level or ("ERROR" if ev.http_status and ev.http_status >= 500 else _LEVELS[ev.outcome]),
        "service": ev.service,
        "msg": ev.msg,
        "transaction_id": ev.transaction_id,
        "amount": ev.amount,
        "currency": ev.currency if ev.amount is not None else None,
        "channel": ev.channel,
        "customer_id": ev.customer_id,
        "customer_country": ev.customer_country,
        "tpp_client_id": ev.tpp_client_id,
        "consent_id": ev.consent_id,
        "consent_scope": None if ev.consent_scope is None else list(ev.consent_scope),
        "outcome": ev.outcome,
        "error_code": ev.error_code,
        "mfa": ev.mfa,
        "risk_score": ev.risk_score,
        "approval": approval,
        "user_id": ev.user_id,
        "source_ip": ev.source_ip,
        "trace_id": ev.trace_id,
        "http_status": ev.http_status,
        "latency_ms": ev.latency_ms,
    }
    return ctx.emit(Source.APP, at, rec, trail)
