"""Every third-party Kubernetes audit, Okta System Log and Keycloak sample in ../shared/corpora normalises.

The corpora wrap or trim the native events (see each PROVENANCE.md); the helpers below undo exactly that and
nothing else:

* Panther test records hold the event under ``log`` with Panther's ``p_*`` metadata beside the native fields;
  AKS events are a JSON string in ``properties.log`` of an Azure Monitor record.
* Panther rewrites timestamps as ``YYYY-MM-DD HH:MM:SS.fff`` (UTC, no zone); many test events are trimmed to the
  fields a rule reads, without any timestamp, and four Okta events have ``published: "redacted"``. A real API
  server / System Log always writes an RFC 3339 timestamp, so those get a fixed one.
* The published Keycloak lines are console excerpts that show only the time of day; ``server.log`` prefixes the
  date (``%d{yyyy-MM-dd HH:mm:ss,SSS}``), which is what the normaliser needs for ``@timestamp``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from soar.errors import NormalisationError
from soar.telemetry.normalise import DeadLetter, Normalised, normalise_lines, normalise_record

FIXED_TIME = "2022-01-01T00:00:00.000000Z"
_PANTHER_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)\Z")
_K8S_TIMES = ("stageTimestamp", "requestReceivedTimestamp")


def _panther_native(log: dict[str, Any], time_fields: tuple[str, ...]) -> dict[str, Any]:
    """A Panther test event as the source wrote it: no ``p_*`` fields, RFC 3339 timestamps, one at least."""
    event = {k: v for k, v in log.items() if not k.startswith("p_")}
    for name in time_fields:
        value = event.get(name)
        if isinstance(value, str) and (match := _PANTHER_TIME.match(value)):
            event[name] = f"{match[1]}T{match[2]}Z"
        elif value == "redacted":
            event[name] = FIXED_TIME
    if not any(event.get(name) for name in time_fields):
        event[time_fields[0]] = FIXED_TIME
    return event


def _falco_events(path: Path) -> Iterator[dict[str, Any]]:
    """The audit events of a Falco trace file: one object, several concatenated objects, or arrays."""
    text, decoder, at = path.read_text("utf-8"), json.JSONDecoder(), 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return
        value, at = decoder.raw_decode(text, at)
        yield from value if isinstance(value, list) else [value]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _all_normalise(source: str, lines: list[str]) -> list[dict[str, Any]]:
    results = list(normalise_lines(source, lines))
    errors = [r.error for r in results if isinstance(r, DeadLetter)]
    assert errors == []
    return [r.document for r in results if isinstance(r, Normalised)]


# --- Kubernetes ------------------------------------------------------------------------------------


def test_falco_trace_files(corpora: Path) -> None:
    folder = corpora / "telemetry" / "kubernetes_audit" / "falco_trace_files"
    files = sorted(folder.glob("*.json"))
    assert len(files) == 47
    events = [(path.name, event) for path in files for event in _falco_events(path)]
    assert len(events) == 52
    malformed = [json.dumps(e) for name, e in events if name == "fal_01_003.json"]
    assert malformed == ['{"kind": 0}']  # the FAL-01-003 security-audit fixture, not an audit event
    with pytest.raises(NormalisationError) as caught:
        normalise_record("kubernetes", malformed[0])
    assert caught.value.field == "kind"
    native = {f"{name}#{i}": json.dumps(e) for i, (name, e) in enumerate(events) if name != "fal_01_003.json"}
    docs = dict(zip(native, _all_normalise("kubernetes", list(native.values())), strict=True))
    assert len(docs) == 51
    exec_doc = next(d for key, d in docs.items() if key.startswith("exec_pod.json"))
    assert exec_doc["kubernetes"]["audit"]["objectRef"]["subresource"] == "exec"
    assert exec_doc["kubernetes"]["audit"]["stage"] == "ResponseStarted"
    assert exec_doc["orchestrator"]["resource"]["type"] == "pods/exec"
    binding = next(d for key, d in docs.items() if key.startswith("create_clusterrolebinding.json"))
    assert binding["event"]["action"] == "create"
    assert binding["event"]["category"] == ["iam", "api"]
    assert binding["orchestrator"]["resource"]["type"] == "clusterrolebindings"


def test_panther_eks_and_aks_events(corpora: Path) -> None:
    folder = corpora / "telemetry" / "kubernetes_audit" / "panther_rule_tests"
    eks = [_panther_native(r["log"], _K8S_TIMES) for r in _jsonl(folder / "eks_audit.jsonl")]
    aks_records = _jsonl(folder / "aks_kube_audit_azure_monitor.jsonl")
    aks = [_panther_native(json.loads(r["log"]["properties"]["log"]), _K8S_TIMES) for r in aks_records]
    assert (len(eks), len(aks)) == (188, 34)
    docs = _all_normalise("kubernetes", [json.dumps(e) for e in eks + aks])
    assert len(docs) == 222
    full = next(d for d in docs if d["kubernetes"]["audit"].get("auditID") == "abcde12345")
    assert full["@timestamp"] == "2022-11-29T00:09:04.380Z"
    assert full["source"]["ip"] == "8.8.8.8"
    assert full["user"]["name"] == "system:anonymous"
    webhook = next(
        d for d in docs if d.get("orchestrator", {}).get("resource", {}).get("name") == "policy-validator"
    )
    assert webhook["kubernetes"]["audit"]["objectRef"]["resource"] == "validatingwebhookconfigurations"


def test_panther_gke_cloud_logging_events(corpora: Path) -> None:
    path = corpora / "telemetry" / "kubernetes_audit" / "panther_rule_tests" / "gke_k8s_gcp_auditlog.jsonl"
    entries = []
    for record in _jsonl(path):
        entry = _panther_native(record["log"], ("timestamp",))
        proto = entry["protoPayload"]
        if "timestamp" in proto:  # trimmed entries carry it inside the payload instead
            entry["timestamp"] = proto["timestamp"]
        entries.append(entry)
    assert len(entries) == 47
    docs = _all_normalise("kubernetes", [json.dumps(e) for e in entries])
    execs = [d for d in docs if d["kubernetes"]["audit"].get("objectRef", {}).get("subresource") == "exec"]
    assert len(execs) == 6
    assert execs[0]["user"]["name"] == "disallowed.user@example.com"
    assert execs[0]["source"]["ip"] == "88.88.88.88"


# --- Okta ------------------------------------------------------------------------------------------


def test_panther_okta_rule_test_events(corpora: Path) -> None:
    records = _jsonl(corpora / "telemetry" / "okta" / "panther_rule_tests" / "okta_systemlog.jsonl")
    assert len(records) == 88
    # Two records carry only Panther enrichment (p_enrichment, p_any_ip_addresses): no Okta event at all.
    native = [r["log"] for r in records if any(not k.startswith("p_") for k in r["log"])]
    assert len(native) == 86
    docs = _all_normalise("okta", [json.dumps(_panther_native(log, ("published",))) for log in native])
    assert len(docs) == 86
    failures = [d for d in docs if d["event"]["outcome"] == "failure"]
    assert failures
    login = next(d for d in docs if d["event"].get("action") == "user.session.start")
    assert login["event"]["category"] == ["authentication", "session"]


def test_panther_okta_scenarios(corpora: Path) -> None:
    folder = corpora / "telemetry" / "okta" / "panther_test_scenarios"
    logs = [
        log
        for path in sorted(folder.glob("*.yml"))
        for log in yaml.safe_load(path.read_text("utf-8"))["Logs"]
    ]
    assert len(logs) == 20
    docs = _all_normalise("okta", [json.dumps(log) for log in logs])
    grant = next(d for d in docs if d["event"]["action"] == "user.account.privilege.grant")
    assert grant["event"]["type"] == ["admin", "change"]
    brute = [
        d for d in docs if d["event"]["action"] == "user.session.start" and d["event"]["outcome"] == "failure"
    ]
    assert len(brute) >= 5
    assert all(d["source"]["geo"].get("city_name") for d in brute)


# --- Keycloak --------------------------------------------------------------------------------------


def test_keycloak_samples(corpora: Path) -> None:
    records = _jsonl(corpora / "telemetry" / "keycloak" / "keycloak_event_samples.jsonl")
    assert len(records) == 9
    dated = [r for r in records if r["raw_line"].startswith("{")]
    console = [r for r in records if not r["raw_line"].startswith("{")]
    assert (len(dated), len(console)) == (1, 8)
    for record in console:  # the time of day alone is no timestamp
        with pytest.raises(NormalisationError) as caught:
            normalise_record("keycloak", record["raw_line"])
        assert caught.value.field == "timestamp"
    lines = [r["raw_line"] for r in dated] + [f"2024-05-06 {r['raw_line']}" for r in console]
    docs = _all_normalise("keycloak", lines)
    assert len(docs) == 9
    for record, doc in zip(dated + console, docs, strict=True):
        parsed = record["event"]
        if "loggerName" in parsed:
            assert doc["event"]["action"] == "CODE_TO_TOKEN"
            assert doc["@timestamp"] == "2024-10-30T11:57:03.414Z"
            continue
        assert doc["keycloak"]["realmId"] == parsed["realmId"]
        assert doc["event"]["action"] == parsed.get("operationType", parsed["type"])
        assert doc["source"]["ip"] == parsed["ipAddress"]
    login_error = next(d for d in docs if d["event"]["action"] == "LOGIN_ERROR")
    assert login_error["event"]["outcome"] == "failure"
    assert login_error["event"]["reason"] == "invalid_user_credentials"
