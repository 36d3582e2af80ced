"""The response bench's load and counters: 1,000 alerts over 200 entities, fake seeds, activity and request tallies."""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from soar.engines.search import SearchClient

ENTITIES = 200
NAMESPACE = "default"
# (rule group, rule id of response/routing.yml, dataset, entity fields) per kind of alert.
KINDS: list[tuple[str, str, str, str]] = [
    ("okta", "95845fbc-4105-5cae-8031-8a4bcd5aac24", "okta.system", "user"),
    ("keycloak", "e3a06ef9-b284-5432-8074-6ce222b0b917", "keycloak.event", "user"),
    ("app", "ba88685f-cbd6-51cc-9d05-b5611b1743e8", "app.payments", "client"),
    ("envoy", "41062813-de44-5941-9565-9adfed8db5ee", "envoy.access", "principal"),
    ("kubernetes", "65085085-b6a6-5394-8eac-93c5ef528ada", "kubernetes.audit", "workload"),
    ("keycloak", "c5d1e213-8574-5c80-b13a-b60e2493c8cf", "keycloak.event", "address"),
]


@dataclass
class Tally:
    """Activities run (count and seconds per type) and search requests sent (per method and endpoint)."""

    activities: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    requests: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        """Start counting again."""
        self.activities.clear()
        self.seconds.clear()
        self.requests.clear()


class Counting(Interceptor):
    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountedActivity(next, self.tally)


class _CountedActivity(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, tally: Tally) -> None:
        super().__init__(next)
        self.tally = tally

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        name = getattr(input.fn, "__temporal_activity_definition").name
        started = time.perf_counter()
        try:
            return await super().execute_activity(input)
        finally:
            self.tally.activities[name] += 1
            self.tally.seconds[name] += time.perf_counter() - started


def count_requests(search: SearchClient, tally: Tally) -> None:
    """Count every request the client sends, by method and endpoint (the last path part not an id)."""
    transport = search.es.transport
    send = transport.perform_request

    async def counted(method: str, target: str, *args: Any, **kwargs: Any) -> Any:
        parts = [p for p in target.split("?")[0].split("/") if p]
        endpoint = next((p for p in reversed(parts) if p.startswith("_")), "_doc" if parts else "/")
        tally.requests[f"{method} {endpoint}"] += 1
        return await send(method, target, *args, **kwargs)

    transport.perform_request = counted  # type: ignore[method-assign]  # instrumentation of this bench only


def _entity(j: int) -> tuple[tuple[str, str, str, str], dict[str, Any]]:
    kind = KINDS[j % len(KINDS)]
    fields: dict[str, Any]
    if kind[3] == "user":
        name = f"user{j}@bank.example" if kind[0] == "okta" else f"kc.user{j}"
        fields = {"user": {"name": name}}
    elif kind[3] == "client":
        fields = {"payment": {"tpp_client_id": f"tpp-{j}"}}
    elif kind[3] == "principal":
        fields = {"envoy": {"mtls": {"peer_principal": f"spiffe://bank.example/ns/bench/sa/svc-{j}"}}}
    elif kind[3] == "workload":
        ref = {"resource": "pods", "namespace": "bench", "name": f"pod-{j}"}
        fields = {"kubernetes": {"audit": {"objectRef": ref}}}
    else:
        fields = {"source": {"ip": f"81.2.{j // 250}.{j % 250 + 1}"}}
    return kind, fields


def seeds(directory: Path) -> dict[str, Path]:
    """Seed files of the fakes: every user, client and pod the bench's alerts name."""
    users = [{"login": f"user{j}@bank.example", "sessions": 1} for j in range(0, ENTITIES, len(KINDS))]
    kc_users = [{"username": f"kc.user{j}", "sessions": 1} for j in range(1, ENTITIES, len(KINDS))]
    clients = [{"client_id": f"tpp-{j}"} for j in range(2, ENTITIES, len(KINDS))]
    pods = [{"workload": f"bench/pod-{j}"} for j in range(4, ENTITIES, len(KINDS))]
    seeds = {
        "okta": {"users": users},
        "keycloak": {"users": kc_users, "clients": clients},
        "kubernetes": {"pods": pods},
    }
    paths = {}
    for kind, data in seeds.items():
        paths[kind] = directory / f"{kind}.json"
        paths[kind].write_text(json.dumps(data))
    return paths


def alerts(count: int, rng: random.Random) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(alert id, rule group, document) of ``count`` alerts over ``ENTITIES`` entities, the last ten minutes."""
    start = datetime.now(UTC) - timedelta(minutes=10)
    for i in range(count):
        (group, rule, dataset, _), fields = _entity(rng.randrange(ENTITIES))
        uid = uuid.uuid4().hex
        at = start + timedelta(milliseconds=500 * i)
        alert = {
            "uuid": uid, "severity": "critical", "risk_score": 95, "original_time": at.isoformat(),
            "rule": {"uuid": rule, "name": f"bench {group}", "tags": ["attack.t1078"], "group": f"bench-{group}"},
            "source": {"index": f"logs-{dataset}-{NAMESPACE}", "id": uid[:20]},
            "handover": {"status": "pending"},
        }  # fmt: skip
        doc = {"@timestamp": at.isoformat(), "event": {"dataset": dataset, "kind": "signal"}, **fields}
        yield uid, f"bench-{group}", doc | {"soar": {"alert": alert}}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux ``/proc``; 0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
