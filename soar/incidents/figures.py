"""Figure helpers (pure): the incident's signature, the queries, failure episodes, Member States.

The figures of an availability incident come from two sources. The payment application logs give the
failed payments (their clients, transactions, amounts and the clients' countries); Envoy gives the
failures of the service's upstreams, whose episodes are the downtime. Which error codes, application
services and upstream workloads belong to the incident is learned from the source events of its alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from soar.dora.calendar import MEMBER_STATE_ZONES
from soar.response.entities import get_path

PAYMENTS_DATASET = "payments.transaction"
ENVOY_DATASET = "envoy.access"
FAILED_ACTION = "payment.failed"
# Failures further apart than this are separate episodes (an outage, then a later blip).
EPISODE_GAP = timedelta(minutes=15)
# How far around the alerts' time range failures are searched for (an alert may come after the first failure).
LOOKAROUND = timedelta(hours=6)


def value_at(doc: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of a nested document, or None (lists give their first item)."""
    node = get_path(doc, path)
    if isinstance(node, list):
        return node[0] if node else None
    return node


@dataclass
class Signature:
    """What identifies the incident's failures in the telemetry, learned from its alerts' source events."""

    error_codes: set[str] = field(default_factory=set)
    app_services: set[str] = field(default_factory=set)
    workloads: set[str] = field(default_factory=set)
    callers: set[str] = field(default_factory=set)

    @property
    def finds_payments(self) -> bool:
        """Whether failed payments can be told apart: by error code, or at least by application service."""
        return bool(self.error_codes or self.app_services)

    def learn(self, doc: dict[str, Any]) -> None:
        """Take what one source event says about the failure."""
        dataset = value_at(doc, "event.dataset")
        if dataset == PAYMENTS_DATASET and value_at(doc, "event.action") == FAILED_ACTION:
            code = value_at(doc, "payment.error_code") or value_at(doc, "error.code")
            if code:
                self.error_codes.add(str(code))
            if service := value_at(doc, "service.name"):
                self.app_services.add(str(service))
        status = value_at(doc, "http.response.status_code")
        if dataset == ENVOY_DATASET and isinstance(status, int) and status >= 500:
            if workload := value_at(doc, "envoy.destination.workload"):
                self.workloads.add(str(workload))
            if caller := value_at(doc, "envoy.source.workload"):
                self.callers.add(str(caller))


def _range(start: datetime, end: datetime) -> dict[str, Any]:
    return {"range": {"@timestamp": {"gte": start.isoformat(), "lte": end.isoformat()}}}


def failed_payments_query(sig: Signature, start: datetime, end: datetime) -> dict[str, Any]:
    """Failed payments with the incident's error codes and/or of its application services in a time range."""
    filters: list[dict[str, Any]] = [{"term": {"event.action": FAILED_ACTION}}, _range(start, end)]
    if sig.error_codes:
        filters.append({"terms": {"payment.error_code": sorted(sig.error_codes)}})
    if sig.app_services:
        filters.append({"terms": {"service.name": sorted(sig.app_services)}})
    return {"bool": {"filter": filters}}


def upstream_errors_query(sig: Signature, start: datetime, end: datetime) -> dict[str, Any]:
    """Envoy 5xx answers of the incident's upstream workloads in a time range."""
    return {
        "bool": {
            "filter": [
                {"terms": {"envoy.destination.workload": sorted(sig.workloads)}},
                {"range": {"http.response.status_code": {"gte": 500}}},
                _range(start, end),
            ]
        }
    }


@dataclass(frozen=True)
class Episode:
    """A run of failures no further apart than the episode gap: first and last failure, how many."""

    start: datetime
    end: datetime
    count: int

    @property
    def minutes(self) -> Decimal:
        """Its length in minutes (first to last failure)."""
        return Decimal(int((self.end - self.start).total_seconds() * 1000)) / 60_000


def merge_episodes(runs: Iterable[Episode], gap: timedelta = EPISODE_GAP) -> list[Episode]:
    """Merge runs of failures (e.g. one per minute bucket) whose gap is at most ``gap``."""
    merged: list[Episode] = []
    for run in sorted(runs, key=lambda r: r.start):
        if merged and run.start - merged[-1].end <= gap:
            last = merged[-1]
            merged[-1] = Episode(last.start, max(last.end, run.end), last.count + run.count)
        else:
            merged.append(run)
    return merged


def touching(
    episodes: Sequence[Episode], first: datetime, last: datetime, gap: timedelta = EPISODE_GAP
) -> list[Episode]:
    """The episodes that reach the alerts' time range (within one gap of it)."""
    return [e for e in episodes if e.end >= first - gap and e.start <= last + gap]


def downtime_minutes(episodes: Sequence[Episode]) -> Decimal:
    """Total downtime of the episodes, in minutes, to the millisecond."""
    return sum((e.minutes for e in episodes), Decimal(0))


def split_countries(countries: Iterable[str]) -> tuple[list[str], list[str]]:
    """Countries split into EU/EEA Member States and the others, each sorted."""
    unique = {c.upper() for c in countries if c}
    states = sorted(c for c in unique if c in MEMBER_STATE_ZONES)
    return states, sorted(unique - set(states))


def amount(value: Any) -> Decimal:
    """An amount as the engine returns it (a double from a scaled float), exact to a thousandth."""
    if value is None:
        return Decimal(0)
    return Decimal(repr(float(value))).quantize(Decimal("0.001"))
