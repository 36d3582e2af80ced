"""Engine checks for the Query DSL soar emits, on the embedded engine (osmem: an OpenSearch fake).

What Sigma semantics need from the engine (DESIGN trap 1): case-insensitive term/prefix/wildcard on
keyword fields, the same on sub-fields of a ``flattened`` field (``flat_object`` on OpenSearch), and
named queries so a hit says which selection matched. Every check has a document that must not match.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from soar.engines.search import SearchClient
from soar.rules.compile import compile_rules
from soar.rules.match import event_index, match_rule, read_events, search_lines
from soar.telemetry.sources import Source

pytestmark = pytest.mark.engines

ENGINE = Path(__file__).resolve().parents[2] / "fixtures" / "rules" / "engine"
HOST_PATH = "kubernetes.audit.requestObject.spec.volumes.hostPath.path"


def _doc(verb: str, path: str | None) -> dict[str, Any]:
    audit: dict[str, Any] = {"verb": verb, "objectRef": {"resource": "Pods"}}
    if path is not None:
        audit["requestObject"] = {"spec": {"volumes": [{"name": "v", "hostPath": {"path": path}}]}}
    return {"@timestamp": "2026-01-20T10:00:00Z", "event": {"kind": "event"}, "kubernetes": {"audit": audit}}


DOCS = [
    (1, _doc("create", "/var/run/docker.sock")),
    (2, _doc("CREATE", "/var/run/DOCKER.SOCK")),
    (3, _doc("get", "/etc/kubernetes")),
    (4, _doc("delete", None)),
]

LEAVES = [
    (
        "term ci keyword",
        {"term": {"kubernetes.audit.verb": {"value": "Create", "case_insensitive": True}}},
        [1, 2],
    ),
    ("term cased keyword", {"term": {"kubernetes.audit.verb": {"value": "create"}}}, [1]),
    (
        "prefix ci keyword",
        {"prefix": {"kubernetes.audit.verb": {"value": "CR", "case_insensitive": True}}},
        [1, 2],
    ),
    (
        "wildcard ci keyword",
        {"wildcard": {"kubernetes.audit.verb": {"value": "*REA*", "case_insensitive": True}}},
        [1, 2],
    ),
    ("wildcard cased keyword", {"wildcard": {"kubernetes.audit.verb": {"value": "*REA*"}}}, [2]),
    (
        "term ci flattened",
        {"term": {HOST_PATH: {"value": "/VAR/run/docker.sock", "case_insensitive": True}}},
        [1, 2],
    ),
    ("term cased flattened", {"term": {HOST_PATH: {"value": "/var/run/docker.sock"}}}, [1]),
    ("prefix ci flattened", {"prefix": {HOST_PATH: {"value": "/VAR/RUN", "case_insensitive": True}}}, [1, 2]),
    ("prefix cased flattened", {"prefix": {HOST_PATH: {"value": "/var/run/D"}}}, [2]),
    (
        "wildcard ci flattened",
        {"wildcard": {HOST_PATH: {"value": "*docker.sock*", "case_insensitive": True}}},
        [1, 2],
    ),
    ("wildcard cased flattened", {"wildcard": {HOST_PATH: {"value": "*docker.sock*"}}}, [1]),
    ("exists flattened", {"exists": {"field": HOST_PATH}}, [1, 2, 3]),
    ("value of another key", {"term": {HOST_PATH: {"value": "v"}}}, []),
    ("escaped wildcard", {"wildcard": {HOST_PATH: {"value": "*docker\\*", "case_insensitive": True}}}, []),
]


@pytest.mark.parametrize(
    ("query", "expected"), [leaf[1:] for leaf in LEAVES], ids=[leaf[0] for leaf in LEAVES]
)
async def test_leaf_queries_on_keyword_and_flattened_fields(
    search: SearchClient, query: dict[str, Any], expected: list[int]
) -> None:
    async with event_index(search, Source.KUBERNETES, DOCS) as index:
        hits = await search_lines(search, index, query, len(DOCS))
    assert [hit.line for hit in hits] == expected


async def test_named_queries_say_which_selection_matched(search: SearchClient) -> None:
    rule = compile_rules([ENGINE / "k8s_runtime_socket.sigma"]).rules[0]
    async with event_index(search, Source.KUBERNETES, DOCS) as index:
        response = await search.es.search(index=index, query=rule.query)
    matched = {hit["_id"]: sorted(hit["matched_queries"]) for hit in response["hits"]["hits"]}
    names = sorted(
        [
            "selection/kubernetes.audit.objectRef.resource",
            "selection/kubernetes.audit.verb",
            f"selection/{HOST_PATH}",
        ]
    )
    assert matched == {"1": names, "2": names}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("k8s_runtime_socket.sigma", [1, 2, 6]), ("k8s_runtime_socket_cased.sigma", [6])],
)
async def test_compiled_rules_on_normalised_raw_audit_events(
    search: SearchClient, rule: str, expected: list[int]
) -> None:
    compiled = compile_rules([ENGINE / rule])
    assert not compiled.errors
    events = read_events(ENGINE / "events" / "k8s_pods.jsonl", Source.KUBERNETES)
    assert await match_rule(search, compiled.rules[0], events) == expected
