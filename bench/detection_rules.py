"""The detection bench's load: 50,000 scenario events and 100 generated Sigma rules over their ECS fields.

Events are the default scenario's raw lines (seed 1337, then seed 7 when a source needs more), so their
values are those of a bank's day. Rules are drawn with one seeded ``random.Random`` from the values the
events really hold: equals, lists, ``|contains``, ``|startswith``, ``|endswith``, wildcards, ``|re`` and
``|gte`` on the fields analysts filter on, in ``selection``, ``1 of sel_*`` and ``... and not filter``
conditions, with values chosen mostly among the rarer ones (a detection selects a few events, not half).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import yaml

from soar.telemetry.normalise import Normalised, normalise_lines
from soar.telemetry.scenario import generate
from soar.telemetry.sources import Source

SEEDS = (1337, 7)
# Events per source: the bank's busiest sources, 50,000 in all.
QUOTAS = {Source.ENVOY: 30_000, Source.APP: 9_000, Source.KEYCLOAK: 6_000, Source.KUBERNETES: 5_000}
# Rules per source: 100 in all, four rule groups (one per source, as soar groups them).
RULES = {Source.ENVOY: 50, Source.APP: 20, Source.KEYCLOAK: 15, Source.KUBERNETES: 15}
LOGSOURCES = {
    Source.ENVOY: {"product": "envoy", "service": "access"},
    Source.APP: {"product": "payments", "service": "transaction"},
    Source.KEYCLOAK: {"product": "keycloak", "service": "event"},
    Source.KUBERNETES: {"product": "kubernetes", "service": "audit"},
}
# Keyword fields rules select on, per source.
FIELDS = {
    Source.ENVOY: [
        "url.path",
        "http.request.method",
        "envoy.destination.workload",
        "envoy.source.workload",
        "source.geo.country_iso_code",
        "user_agent.original",
        "envoy.response_code_details",
        "envoy.response_flags",
        "envoy.mtls.peer_principal",
        "envoy.upstream.host",
        "url.domain",
        "source.ip",
    ],
    Source.APP: [
        "event.action",
        "payment.channel",
        "payment.error_code",
        "payment.consent_scope",
        "payment.customer_country",
        "payment.tpp_client_id",
        "service.name",
        "user.name",
        "log.level",
    ],
    Source.KEYCLOAK: [
        "event.action",
        "event.reason",
        "keycloak.clientId",
        "user.name",
        "source.ip",
        "event.outcome",
    ],
    Source.KUBERNETES: [
        "kubernetes.audit.verb",
        "orchestrator.resource.type",
        "orchestrator.namespace",
        "user.name",
        "user_agent.original",
        "url.original",
        "orchestrator.resource.name",
    ],
}
NUMERIC = {
    Source.ENVOY: ("http.response.status_code", [404, 429, 500, 503]),
    Source.APP: ("http.response.status_code", [403, 422, 503]),
    Source.KUBERNETES: ("http.response.status_code", [201, 403]),
}
_STRING_KINDS = ("eq", "eq", "list", "contains", "startswith", "endswith", "wildcard", "re")
_IP_FIELDS = frozenset({"source.ip"})
_LEVELS = ("low", "medium", "medium", "high", "critical")


def event_lines() -> dict[Source, list[str]]:
    """The raw lines ingested, per source: each source's quota, from seed 1337's day then seed 7's."""
    lines: dict[Source, list[str]] = {source: [] for source in QUOTAS}
    for seed in SEEDS:
        scenario = generate("default", seed=seed)
        for source, quota in QUOTAS.items():
            lines[source] += scenario.records[source][: quota - len(lines[source])]
    return lines


def _flat(doc: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in doc.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def value_counts(source: Source, lines: list[str]) -> dict[str, Counter[str]]:
    """How often each value of the source's rule fields occurs in the events (list items counted apart)."""
    wanted = set(FIELDS[source])
    counts: dict[str, Counter[str]] = {name: Counter() for name in FIELDS[source]}
    for item in normalise_lines(source, lines):
        if not isinstance(item, Normalised):
            continue
        for name, value in _flat(item.document):
            if name in wanted:
                for one in value if isinstance(value, list) else [value]:
                    counts[name][str(one)] += 1
    return counts


def _pick(rng: random.Random, counts: Counter[str], events: int) -> str:
    """A value, mostly a rarer one: detections select a few events."""
    values = sorted(counts)
    rare = [v for v in values if counts[v] <= events // 40] or values
    return rng.choice(rare if rng.random() < 0.85 else values)


def _literal(text: str) -> str:
    """The longest run of plain characters of a value (safe in a wildcard or a regex)."""
    runs = re.findall(r"[A-Za-z0-9._/:-]{3,}", text)
    return max(runs, key=len) if runs else text


def _item(rng: random.Random, name: str, counts: Counter[str], events: int) -> tuple[str, Any]:
    """One ``field|modifier: value`` of a selection."""
    value = _pick(rng, counts, events)
    kind = "eq" if name in _IP_FIELDS else rng.choice(_STRING_KINDS)
    plain = _literal(value)
    cut = max(3, len(plain) * 2 // 3)
    if kind == "list":
        return name, sorted({value, _pick(rng, counts, events)})
    if kind == "contains":
        start = rng.randrange(0, max(1, len(plain) - cut + 1))
        return f"{name}|contains", plain[start : start + cut]
    if kind == "startswith":
        return f"{name}|startswith", value[:cut] if len(value) > 3 else value
    if kind == "endswith":
        return f"{name}|endswith", value[-cut:] if len(value) > 3 else value
    if kind == "wildcard" and len(plain) >= 6:
        return name, f"*{plain[: len(plain) // 2]}*{plain[-2:]}"
    if kind == "re" and len(plain) >= 6:
        return f"{name}|re", re.escape(plain[: len(plain) // 2]).replace("\\", "") + "[^ ]*" + plain[-2:]
    return name, value


def _selection(
    rng: random.Random, source: Source, counts: dict[str, Counter[str]], events: int, size: int
) -> dict[str, Any]:
    names = rng.sample([n for n in FIELDS[source] if counts[n]], size)
    selection = dict(_item(rng, name, counts[name], events) for name in names)
    numeric = NUMERIC.get(source)
    if numeric is not None and rng.random() < 0.15:
        field, bounds = numeric
        selection[f"{field}|gte"] = rng.choice(bounds)
    return selection


def rule_candidates(
    source: Source, counts: dict[str, Counter[str]], seed: int = 5
) -> Iterator[dict[str, Any]]:
    """Endless Sigma rules over the source's events: one selection or ``1 of sel_*``, either ``and not filter``.

    The bench keeps a candidate when its hits stay under its cap: detections select a few events.
    """
    rng = random.Random(f"{seed}-{source.value}")
    events = QUOTAS[source]
    while True:
        shape = rng.choice(("one", "one", "any", "one_not", "any_not"))
        detection: dict[str, Any] = {}
        if shape.startswith("any"):
            for n in range(rng.choice((2, 2, 3))):
                detection[f"sel_{n}"] = _selection(rng, source, counts, events, 1)
            condition = "1 of sel_*"
        else:
            detection["selection"] = _selection(rng, source, counts, events, rng.choice((1, 1, 2)))
            condition = "selection"
        if shape.endswith("not"):
            detection["filter"] = _selection(rng, source, counts, events, 1)
            condition += " and not filter"
        detection["condition"] = condition
        yield {"logsource": LOGSOURCES[source], "detection": detection, "level": rng.choice(_LEVELS)}


# Rules for the memory run: one per destination workload, together every Envoy event (30,000), each under
# 10,000 (the baseline's size). At soar's page size a tenth of their hits still fits in the first pages; the
# run's smaller pages (bench.detection_sides.SMALL_PAGE) make every rule stream at N as well.
MEMORY_RULES: list[dict[str, Any]] = [
    {
        "logsource": LOGSOURCES[Source.ENVOY],
        "detection": {"selection": {"envoy.destination.workload": workload}, "condition": "selection"},
    }
    for workload in (
        "keycloak",
        "accounts-api",
        "ledger",
        "payments-api",
        "core-banking-adapter",
        "psd2-tpp-gateway",
    )
]


def rule_yaml(rule: dict[str, Any], number: int) -> str:
    """A rule's Sigma file, with a title and id of its number."""
    source = rule["logsource"]["product"]
    head = {
        "title": f"Bench rule {number:03d} over {source}",
        "id": f"00000000-0000-4000-8000-{number:012d}",
        "status": "test",
        "description": "Generated by bench/detection_rules.py.",
        "author": "soar bench",
        "date": "2026-11-23",
        "tags": ["attack.initial-access", "attack.t1078"],
    }
    return yaml.safe_dump(head | {"level": "medium"} | rule, sort_keys=False)
