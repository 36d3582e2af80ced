"""Measuring an incident in the telemetry: the search engine counts, exactly where it matters.

Counts of clients and transactions page through composite aggregations (exact), never ``cardinality``
(approximate in Elasticsearch). Episodes come from a one-minute ``date_histogram`` with the first and last
failure of each bucket, merged in Python.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from elasticsearch import ApiError, NotFoundError

from soar.engines.search import SearchClient, search_error
from soar.incidents.figures import (
    ENVOY_DATASET,
    LOOKAROUND,
    PAYMENTS_DATASET,
    Episode,
    Signature,
    amount,
    downtime_minutes,
    failed_payments_query,
    merge_episodes,
    split_countries,
    touching,
    upstream_errors_query,
)
from soar.incidents.models import FiguresInput, SourceRef, TelemetryFigures

PAGE = 1000
ServiceOf = Callable[[str], str | None]


def _index(dataset: str, namespace: str) -> str:
    return f"logs-{dataset}-{namespace}"


async def learn_signature(search: SearchClient, sources: list[SourceRef]) -> Signature:
    """Read the alerts' sample source events and learn the incident's error codes, services and upstreams."""
    sig = Signature()
    if not sources:
        return sig
    try:
        response = await search.es.mget(docs=[{"_index": s.index, "_id": s.id} for s in sources])
    except ApiError as exc:
        raise search_error(exc, "reading the alerts' source events") from None
    for doc in response["docs"]:
        if doc.get("found"):
            sig.learn(doc["_source"])
    return sig


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


async def episodes(search: SearchClient, index: str, query: dict[str, Any]) -> list[Episode]:
    """The failure episodes of a query: one-minute buckets with their first and last failure, merged."""
    aggs = {
        "minutes": {
            "date_histogram": {"field": "@timestamp", "fixed_interval": "1m", "min_doc_count": 1},
            "aggs": {"first": {"min": {"field": "@timestamp"}}, "last": {"max": {"field": "@timestamp"}}},
        }
    }
    try:
        response = await search.es.search(index=index, query=query, size=0, aggs=aggs)
    except NotFoundError:
        return []
    except ApiError as exc:
        raise search_error(exc, f"finding failure episodes in {index}") from None
    runs = [
        Episode(
            _time(b["first"]["value_as_string"]), _time(b["last"]["value_as_string"]), int(b["doc_count"])
        )
        for b in response["aggregations"]["minutes"]["buckets"]
        if b["doc_count"]
    ]
    return merge_episodes(runs)


async def composite(
    search: SearchClient,
    index: str,
    query: dict[str, Any],
    fields: list[str],
    aggs: dict[str, Any] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Every bucket of a composite aggregation over ``fields``, page after page (exact)."""
    after: dict[str, Any] | None = None
    sources = [{f: {"terms": {"field": f}}} for f in fields]
    while True:
        body: dict[str, Any] = {"size": PAGE, "sources": sources}
        if after is not None:
            body["after"] = after
        agg: dict[str, Any] = {"composite": body}
        if aggs:
            agg["aggs"] = aggs
        try:
            response = await search.es.search(index=index, query=query, size=0, aggs={"pages": agg})
        except ApiError as exc:
            raise search_error(exc, f"counting in {index}") from None
        page = response["aggregations"]["pages"]
        for bucket in page["buckets"]:
            yield bucket
        after = page.get("after_key")
        if not page["buckets"] or after is None:
            return


async def _payments(search: SearchClient, index: str, query: dict[str, Any], out: TelemetryFigures) -> None:
    clients = 0
    async for _ in composite(search, index, query, ["payment.customer_id"]):
        clients += 1
    by_country: dict[str, int] = {}
    async for b in composite(search, index, query, ["payment.customer_country", "payment.customer_id"]):
        country = str(b["key"]["payment.customer_country"])
        by_country[country] = by_country.get(country, 0) + 1
    count, total = 0, Decimal(0)
    aggs = {"value": {"max": {"field": "payment.amount"}}}
    async for b in composite(search, index, query, ["payment.transaction_id"], aggs):
        count += 1
        total += amount(b["value"]["value"])
    out.clients_affected, out.transactions_affected = clients, count
    out.transaction_value_affected_eur = total.quantize(Decimal("0.01"))
    out.clients_by_country = dict(sorted(by_country.items()))
    out.member_states, out.other_countries = split_countries(by_country)


async def _incident_episodes(
    search: SearchClient, namespace: str, sig: Signature, spec: FiguresInput
) -> tuple[list[Episode], list[Episode]]:
    """The failure episodes (failed payments, upstream 5xx) that reach the alerts' time range."""
    first, last = spec.first_alert_at, spec.last_alert_at
    lo, hi = first - LOOKAROUND, last + LOOKAROUND
    pay: list[Episode] = []
    up: list[Episode] = []
    if sig.finds_payments:
        query = failed_payments_query(sig, lo, hi)
        pay = touching(await episodes(search, _index(PAYMENTS_DATASET, namespace), query), first, last)
    if sig.workloads:
        query = upstream_errors_query(sig, lo, hi)
        up = touching(await episodes(search, _index(ENVOY_DATASET, namespace), query), first, last)
    return pay, up


def _widen(sig: Signature, spec: FiguresInput, service_of: ServiceOf | None) -> str:
    """Without a failed payment among the alerts, look for the failed payments of the incident's services.

    An outage seen only at the mesh (failed calls to the ledger) still fails payments: those of the
    incident's catalogue services and of the services of the failing calls' callers and upstreams.
    """
    if sig.error_codes or sig.app_services:
        return f"failed payments ({', '.join(sorted(sig.error_codes)) or 'any error'})"
    names = set(spec.services)
    if service_of is not None:
        names |= {n for w in sig.workloads | sig.callers if (n := service_of(w))}
    sig.app_services = names
    listed = ", ".join(sorted(names)) or "none"
    return f"failed payments of the services {listed} (no failed payment among the alerts)"


async def measure(
    search: SearchClient,
    namespace: str,
    spec: FiguresInput,
    now: datetime,
    service_of: ServiceOf | None = None,
) -> TelemetryFigures:
    """The incident's figures from the telemetry, with a note on how each was found.

    Args:
        search: The search engine.
        namespace: The namespace of the telemetry indices.
        spec: The incident's alerts' time range, sample source events and catalogue services.
        now: When the figures are computed.
        service_of: The catalogue service of a workload name (to find the payments an outage failed).
    """
    sig = await learn_signature(search, spec.sources)
    payments = _widen(sig, spec, service_of)
    out = TelemetryFigures(
        computed_at=now,
        error_codes=sorted(sig.error_codes),
        app_services=sorted(sig.app_services),
        workloads=sorted(sig.workloads),
    )
    pay, up = await _incident_episodes(search, namespace, sig, spec)
    edges = [e.start for e in pay + up] + [e.end for e in pay + up]
    if not edges:
        out.notes.append("no failed payment or upstream failure of the incident's signature was found")
        return out
    out.start, out.end = min(edges), max(edges)
    if pay:
        pay_index = _index(PAYMENTS_DATASET, namespace)
        await _payments(search, pay_index, failed_payments_query(sig, out.start, out.end), out)
        span = f"from {out.start.isoformat()} to {out.end.isoformat()}"
        out.payments_how = f"{payments} in {pay_index} {span}, exact composite counts"
        out.notes.append(f"clients, transactions, value and countries: {out.payments_how}")
    else:
        out.notes.append(
            "no failed payment of the incident's signature: clients and transactions not measured"
        )
    used, what = (up, f"Envoy 5xx of {', '.join(out.workloads)}") if up else (pay, "failed payments")
    out.downtime_minutes = downtime_minutes(used)
    out.downtime_how = (
        f"{out.downtime_minutes:.2f} min: {len(used)} episode(s) of {what}, first to last failure "
        "(failures more than 15 min apart are separate episodes)"
    )
    out.notes.append(f"downtime: {out.downtime_how}")
    return out
