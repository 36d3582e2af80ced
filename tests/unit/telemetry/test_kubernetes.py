"""Kubernetes audit normaliser: exec, secrets, RBAC, denials, impersonation, GKE, fixtures, robustness."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soar.errors import NormalisationError
from soar.telemetry.ecs import EcsDocument
from soar.telemetry.normalise import DeadLetter, Normalised, normalise_lines, normalise_record
from soar.telemetry.normalisers.kubernetes import REDACTED, normalise
from soar.telemetry.sources import Source
from soar.telemetry.templates import field_types
from tests.unit.telemetry.fuzzing import (
    FUZZ,
    GOOD_OR_JUNK,
    JSON_VALUES,
    assert_numbered,
    assert_only_normalisation_errors,
    mutated,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "telemetry" / "kubernetes"
LINES = (FIXTURES / "audit.jsonl").read_text("utf-8").splitlines()
EVENTS: list[dict[str, Any]] = [json.loads(line) for line in LINES]


def _doc(index: int) -> dict[str, Any]:
    return normalise_record("kubernetes", LINES[index])


def test_exec_into_pod() -> None:
    doc = _doc(0)
    assert doc["@timestamp"] == "2025-03-04T09:15:02.131Z"
    assert doc["event"]["dataset"] == "kubernetes.audit"
    assert doc["event"]["module"] == "kubernetes"
    assert doc["event"]["action"] == "create"
    assert doc["event"]["outcome"] == "success"  # 101 Switching Protocols
    assert doc["event"]["id"] == "4f0b6d39-9a2e-4b8c-8d5e-0a1f6c2b7e11"
    assert doc["event"]["start"] == "2025-03-04T09:15:02.118Z"
    assert doc["event"]["original"] == LINES[0]
    audit = doc["kubernetes"]["audit"]
    assert audit["objectRef"]["subresource"] == "exec"
    assert audit["stage"] == "ResponseStarted"
    assert audit["user"]["extra"] == {"authentication.kubernetes.io/credential-id": ["X509SHA256=2b1e"]}
    assert doc["orchestrator"] == {
        "type": "kubernetes",
        "namespace": "payments",
        "api_version": "v1",
        "resource": {"type": "pods/exec", "name": "payments-api-7d9f8c6b5-x2kqp", "parent": {"type": "pods"}},
    }
    assert doc["user"]["name"] == "alice.martin@bank.example"
    assert doc["user"]["group"]["name"] == ["bank:platform-ops", "system:authenticated"]
    assert doc["source"]["ip"] == "10.20.30.40"
    assert doc["url"]["original"].startswith("/api/v1/namespaces/payments/pods/")
    assert doc["http"]["response"]["status_code"] == 101
    assert doc["user_agent"]["original"].startswith("kubectl/v1.29.2")


def test_secrets_list_by_service_account() -> None:
    doc = _doc(1)
    assert doc["event"]["action"] == "list"
    assert doc["event"]["type"] == ["access", "allowed"]
    assert doc["event"]["category"] == ["api"]
    assert doc["orchestrator"]["resource"] == {"type": "secrets"}
    assert doc["orchestrator"]["namespace"] == "kube-system"
    assert doc["related"]["user"] == ["system:serviceaccount:monitoring:scraper"]


def test_clusterrolebinding_create_keeps_request_object() -> None:
    doc = _doc(2)
    assert doc["event"]["category"] == ["iam", "api"]
    assert doc["event"]["type"] == ["creation", "allowed"]
    assert doc["http"]["response"]["status_code"] == 201
    audit = doc["kubernetes"]["audit"]
    assert audit["objectRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert audit["requestObject"]["roleRef"]["name"] == "cluster-admin"
    assert audit["responseObject"]["metadata"]["resourceVersion"] == "8812734"
    assert doc["event"]["reason"].startswith("RBAC: allowed by ClusterRoleBinding")


def test_forbidden_anonymous_secret_read_is_a_failure() -> None:
    doc = _doc(3)
    assert doc["event"]["outcome"] == "failure"
    assert doc["event"]["type"] == ["access", "denied"]
    assert doc["event"]["reason"].startswith('secrets "db-credentials" is forbidden')
    assert doc["kubernetes"]["audit"]["responseStatus"]["reason"] == "Forbidden"
    assert doc["source"]["ip"] == "203.0.113.77"


def test_impersonation_and_several_source_ips() -> None:
    doc = _doc(4)
    assert doc["event"]["type"] == ["change", "allowed"]
    assert doc["user"]["name"] == "system:serviceaccount:ci:deployer"
    assert doc["user"]["effective"] == {"name": "bob.keller@bank.example"}
    assert doc["related"]["user"] == ["system:serviceaccount:ci:deployer", "bob.keller@bank.example"]
    assert doc["related"]["ip"] == ["10.0.12.5", "192.0.2.10"]
    assert doc["source"]["ip"] == "10.0.12.5"


def test_unknown_fields_are_kept() -> None:
    doc = _doc(5)
    assert doc["event"]["type"] == ["deletion", "allowed"]
    assert doc["kubernetes"]["audit"]["clusterRegion"] == "eu-central-1"
    assert doc["kubernetes"]["audit"]["customAuditMarker"] == {
        "policyRule": "bank-default",
        "tenant": "retail",
    }


def test_ipv6_source_and_service_account_creation() -> None:
    doc = _doc(6)
    assert doc["source"]["ip"] == "2001:db8::42"
    assert doc["event"]["category"] == ["iam", "api"]


def test_gke_cloud_logging_entry_becomes_an_audit_event() -> None:
    doc = _doc(7)
    assert doc["@timestamp"] == "2025-03-04T12:00:00.987Z"
    audit = doc["kubernetes"]["audit"]
    assert audit["verb"] == "create"
    assert audit["objectRef"] == {
        "apiVersion": "v1",
        "resource": "pods",
        "subresource": "exec",
        "namespace": "cards",
        "name": "cards-worker-0",
    }
    assert doc["user"]["name"] == "carol.ops@bank.example"
    assert doc["source"]["ip"] == "198.51.100.23"
    assert doc["orchestrator"]["cluster"]["name"] == "cards-eu"
    assert doc["cloud"] == {"provider": "gcp", "account": {"id": "bank-prod"}, "region": "europe-west3"}
    assert doc["gcp"]["audit"]["methodName"] == "io.k8s.core.v1.pods.exec.create"


def test_every_fixture_is_a_valid_ecs_document() -> None:
    for line in LINES:
        EcsDocument.model_validate(normalise(line))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"kind":"Event","verb":"get","stageTimestamp":"yesterday"}', "stageTimestamp"),
        ('{"kind":"Event","verb":"get","stageTimestamp":"2025-03-04 09:00"}', "stageTimestamp"),
        ('{"kind":"Event","verb":"get","requestReceivedTimestamp":true}', "requestReceivedTimestamp"),
        ('{"kind":"EventList","items":[]}', "kind"),
        ('{"verb":7,"stageTimestamp":"2025-03-04T09:00:00Z"}', "verb"),
        (
            '{"kind":"Event","verb":"get","stageTimestamp":"2025-03-04T09:00:00Z","objectRef":"pods"}',
            "objectRef",
        ),
        (
            '{"kind":"Event","verb":"get","stageTimestamp":"2025-03-04T09:00:00Z","sourceIPs":"1.2.3.4"}',
            "sourceIPs",
        ),
        ('{"protoPayload":{"serviceName":"k8s.io"}}', "protoPayload.methodName"),
    ],
)
def test_bad_records_name_the_field(raw: str, field: str) -> None:
    with pytest.raises(NormalisationError) as caught:
        normalise_record("kubernetes", raw)
    assert caught.value.field == field


@pytest.mark.parametrize("raw", ["not json", "[]", '"Event"', "{"])
def test_not_a_json_object(raw: str) -> None:
    with pytest.raises(NormalisationError, match="not a JSON object"):
        normalise_record("kubernetes", raw)


def test_fixture_files_through_normalise_lines() -> None:
    good = list(normalise_lines("kubernetes", LINES))
    assert [type(r) for r in good] == [Normalised] * len(LINES)
    with (FIXTURES / "bad.jsonl").open(encoding="utf-8") as handle:
        results = list(normalise_lines("kubernetes", handle, file="bad.jsonl"))
    assert [(type(r).__name__, r.line) for r in results] == [
        ("DeadLetter", 1),
        ("DeadLetter", 2),
        ("Normalised", 3),  # no time at all: kept, placed at ingest time and flagged
        ("DeadLetter", 4),
        ("Normalised", 6),
        ("DeadLetter", 7),
        ("DeadLetter", 8),
    ]
    untimed = results[2]
    assert isinstance(untimed, Normalised)
    assert untimed.document["tags"] == ["timestamp_missing"]
    assert untimed.document["soar"]["timestamp_source"] == "ingested"
    letters = [r for r in results if isinstance(r, DeadLetter)]
    assert letters[-1].error.startswith("responseStatus.code:")


def test_template_gives_sigma_fields_a_home() -> None:
    types = field_types(Source.KUBERNETES)
    assert types["kubernetes.audit.verb"] == "keyword"
    assert types["kubernetes.audit.objectRef.resource"] == "keyword"
    assert types["kubernetes.audit.responseStatus.code"] == "long"
    assert types["kubernetes.audit.requestObject"] == "flattened"
    assert types["kubernetes.audit.stageTimestamp"] == "date"
    assert types["source.ip"] == "ip"


# --- robustness -------------------------------------------------------------------------------


@FUZZ
@given(st.text(max_size=200))
def test_random_text(raw: str) -> None:
    assert_only_normalisation_errors(normalise, raw)


@FUZZ
@given(
    st.dictionaries(st.sampled_from(["kind", "verb", "stageTimestamp", "user", "x"]), JSON_VALUES, max_size=5)
)
def test_random_objects(event: dict[str, Any]) -> None:
    assert_only_normalisation_errors(normalise, json.dumps(event))


@FUZZ
@given(st.sampled_from(EVENTS), st.integers(min_value=0), JSON_VALUES, st.booleans())
def test_valid_events_with_a_field_broken(event: dict[str, Any], pick: int, value: Any, delete: bool) -> None:
    assert_only_normalisation_errors(normalise, mutated(event, pick, value, delete))


@FUZZ
@given(GOOD_OR_JUNK)
def test_bad_lines_become_dead_letters_with_their_line_number(plan: list[tuple[bool, str]]) -> None:
    lines = [LINES[0] if good else f"#{junk}" for good, junk in plan]
    results = list(normalise_lines("kubernetes", lines))
    assert_numbered(results, plan)


# --- Secret values never stored -------------------------------------------------------------------------

_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_APPLIED: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db-credentials", "namespace": "payments"},
    "data": {"password": "aHVudGVyMjAyNQ=="},
    "stringData": {"dsn": "postgres://app:hunter2025@db/ledger"},
}


def _secret_event(verb: str, level: str = "RequestResponse", **objects: Any) -> dict[str, Any]:
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": level,
        "auditID": f"a-{verb}",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/payments/secrets",
        "verb": verb,
        "user": {"username": "alice.martin@bank.example"},
        "sourceIPs": ["10.20.30.40"],
        "objectRef": {"resource": "secrets", "namespace": "payments", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": "2025-03-04T09:30:00.000100Z",
        "stageTimestamp": "2025-03-04T09:30:00.000900Z",
        **objects,
    }


def _leaks(doc: dict[str, Any], values: list[str]) -> list[str]:
    """The values found in the document, raw or JSON-escaped once or twice (event.original, annotations)."""
    texts = [json.dumps(doc), json.dumps(doc, ensure_ascii=False)]
    forms = {json.dumps(v, ensure_ascii=a)[1:-1] for v in values for a in (True, False)} | set(values)
    forms |= {json.dumps(f, ensure_ascii=a)[1:-1] for f in list(forms) for a in (True, False)}
    return sorted(f for f in forms if any(f in text for text in texts))


def test_create_secret_redacts_data_string_data_and_last_applied() -> None:
    secret = copy.deepcopy(_APPLIED)
    secret["metadata"]["annotations"] = {_LAST_APPLIED: json.dumps(_APPLIED), "team": "payments"}
    event = _secret_event("create", requestObject=secret, responseObject={**secret, "stringData": None})
    doc = normalise(json.dumps(event))
    request = doc["kubernetes"]["audit"]["requestObject"]
    assert request["data"] == {"password": REDACTED}
    assert request["stringData"] == {"dsn": REDACTED}
    assert request["metadata"]["annotations"]["team"] == "payments"
    applied = json.loads(request["metadata"]["annotations"][_LAST_APPLIED])
    assert applied["data"] == {"password": REDACTED}
    assert applied["stringData"] == {"dsn": REDACTED}
    assert doc["kubernetes"]["audit"]["responseObject"]["data"] == {"password": REDACTED}
    original = json.loads(doc["event"]["original"])
    assert original["requestObject"] == request
    assert doc["event"]["original"] == json.dumps(original, ensure_ascii=False, separators=(",", ":"))
    assert doc["soar"]["redacted"] == [
        "kubernetes.audit.requestObject",
        "kubernetes.audit.responseObject",
        "event.original",
    ]
    assert _leaks(doc, ["aHVudGVyMjAyNQ==", "hunter2025"]) == []
    EcsDocument.model_validate(doc)


def test_list_secrets_response_redacts_every_item() -> None:
    items = [
        {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "data": {"tls.key": "LS0tLS1CRUdJTi"}},
        {"kind": "Secret", "metadata": {"name": "api"}, "data": {"token": "c2VjcmV0LXRva2Vu"}},
        {"metadata": {"name": "empty"}},
    ]
    response = {
        "kind": "SecretList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "91"},
        "items": items,
    }
    doc = normalise(json.dumps(_secret_event("list", responseObject=response)))
    stored = doc["kubernetes"]["audit"]["responseObject"]["items"]
    assert [item.get("data") for item in stored] == [{"tls.key": REDACTED}, {"token": REDACTED}, None]
    assert stored[0]["type"] == "kubernetes.io/tls"
    assert doc["soar"]["redacted"] == ["kubernetes.audit.responseObject", "event.original"]
    assert _leaks(doc, ["LS0tLS1CRUdJTi", "c2VjcmV0LXRva2Vu"]) == []


def test_patch_of_a_secret_redacts_merge_and_json_patches() -> None:
    merge = normalise(
        json.dumps(_secret_event("patch", requestObject={"data": {"password": "bmV3cGFzcw=="}}))
    )
    assert merge["kubernetes"]["audit"]["requestObject"] == {"data": {"password": REDACTED}}
    ops = [{"op": "replace", "path": "/data/password", "value": "bmV3cGFzcw=="}]
    json_patch = normalise(json.dumps(_secret_event("patch", requestObject=ops)))
    assert json_patch["kubernetes"]["audit"]["requestObject"] == [{**ops[0], "value": REDACTED}]
    assert _leaks(merge, ["bmV3cGFzcw=="]) == _leaks(json_patch, ["bmV3cGFzcw=="]) == []


def test_gke_secret_create_is_redacted_in_both_copies() -> None:
    request = {
        "@type": "core.k8s.io/v1.Secret",
        "metadata": {"name": "db"},
        "data": {"pw": "Z2tlLXNlY3JldA=="},
    }
    entry = copy.deepcopy(EVENTS[7])
    entry["protoPayload"]["methodName"] = "io.k8s.core.v1.secrets.create"
    entry["protoPayload"]["resourceName"] = "core/v1/namespaces/cards/secrets/db"
    entry["protoPayload"]["request"] = request
    doc = normalise(json.dumps(entry))
    assert doc["gcp"]["audit"]["request"]["data"] == {"pw": REDACTED}
    assert doc["kubernetes"]["audit"]["requestObject"]["data"] == {"pw": REDACTED}
    assert "gcp.audit.request" in doc["soar"]["redacted"]
    assert _leaks(doc, ["Z2tlLXNlY3JldA=="]) == []


def test_metadata_level_secret_read_is_unchanged() -> None:
    line = LINES[3]  # get secrets/db-credentials at level Metadata: no object, nothing to redact
    doc = normalise(line)
    assert doc["event"]["original"] == line
    assert "soar" not in doc
    for index, line in enumerate(LINES):
        assert normalise(line)["event"]["original"] == line, index


def test_objects_of_other_kinds_are_left_alone() -> None:
    config = {"kind": "ConfigMap", "metadata": {"name": "app"}, "data": {"level": "debug"}}
    event = _secret_event("create", requestObject=config)
    event["objectRef"]["resource"] = "configmaps"
    raw = json.dumps(event)
    doc = normalise(raw)
    assert doc["event"]["original"] == raw
    assert doc["kubernetes"]["audit"]["requestObject"] == config


_SECRET_VALUES = st.dictionaries(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz._-", min_size=1, max_size=10),
    st.text(min_size=4, max_size=24),
    min_size=1,
    max_size=4,
)


def _about_secrets(shape: str, data: dict[str, str], string_data: dict[str, str]) -> dict[str, Any]:
    secret: dict[str, Any] = {"kind": "Secret", "metadata": {"name": "s", "annotations": {}}, "data": data}
    secret["stringData"] = string_data
    secret["metadata"]["annotations"][_LAST_APPLIED] = json.dumps(secret)
    if shape == "list":
        items = [secret, {"data": data}]
        return _secret_event("list", responseObject={"kind": "SecretList", "items": items})
    if shape == "patch":
        return _secret_event("patch", requestObject={"data": data, "stringData": string_data})
    if shape == "gke":
        entry = copy.deepcopy(EVENTS[7])
        entry["protoPayload"].update(
            methodName="io.k8s.core.v1.secrets.create", request=secret, response=secret
        )
        return entry
    return _secret_event("create", requestObject=secret, responseObject=copy.deepcopy(secret))


@FUZZ
@given(_SECRET_VALUES, _SECRET_VALUES, st.sampled_from(["create", "list", "patch", "gke"]))
def test_no_secret_value_survives_anywhere(
    data: dict[str, str], string_data: dict[str, str], shape: str
) -> None:
    doc = normalise(json.dumps(_about_secrets(shape, data, string_data)))
    # The same event with the values already redacted gives the same document: nothing depends on them.
    blank = _about_secrets(shape, dict.fromkeys(data, REDACTED), dict.fromkeys(string_data, REDACTED))
    blank_doc = normalise(json.dumps(blank))
    assert doc == blank_doc
    # And no value is found in it, unless the rest of the event holds it anyway ("0000" in a timestamp).
    values = [v for v in [*data.values(), *string_data.values()] if not _leaks(blank_doc, [v])]
    assert _leaks(doc, values) == []
    assert json.loads(doc["event"]["original"])


# --- shipper envelopes and missing times ------------------------------------------------------------

_AKS_ID = (
    "/SUBSCRIPTIONS/0b1c2d3e-0000-4000-8000-00000000abcd/RESOURCEGROUPS/RG-CORE"
    "/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/aks-core-weu"
)


def _aks(inner: dict[str, Any]) -> str:
    return json.dumps(
        {
            "category": "kube-audit",
            "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
            "resourceId": _AKS_ID,
            "time": "2026-11-23T09:15:00.1234567Z",
            "properties": {"log": json.dumps(inner)},
        }
    )


def test_aks_diagnostic_envelope_is_unwrapped() -> None:
    inner = {
        "kind": "Event",
        "verb": "create",
        "user": {"username": "ops@bank.example"},
        "objectRef": {"resource": "pods", "subresource": "exec", "namespace": "core", "name": "ledger-0"},
        "responseStatus": {"code": 101},
        "stageTimestamp": "2026-11-23T09:14:59.999999Z",
    }
    doc = normalise_record("kubernetes", _aks(inner))
    assert doc["kubernetes"]["audit"]["objectRef"]["subresource"] == "exec"
    assert doc["@timestamp"] == "2026-11-23T09:14:59.999Z"  # the event's own time wins over the envelope's
    assert doc["cloud"]["provider"] == "azure"
    assert doc["cloud"]["account"]["id"] == "0b1c2d3e-0000-4000-8000-00000000abcd"
    assert doc["orchestrator"]["cluster"]["name"] == "aks-core-weu"
    assert doc["user"]["name"] == "ops@bank.example"


def test_aks_envelope_secrets_are_redacted_inside_the_embedded_text() -> None:
    inner = {
        "kind": "Event",
        "verb": "create",
        "objectRef": {"resource": "secrets", "namespace": "core"},
        "requestObject": {"kind": "Secret", "data": {"token": "c3VwZXItc2VjcmV0LXRva2Vu"}},
    }
    doc = normalise_record("kubernetes", _aks(inner))
    assert "c3VwZXItc2VjcmV0LXRva2Vu" not in json.dumps(doc)
    embedded = json.loads(json.loads(doc["event"]["original"])["properties"]["log"])
    assert embedded["requestObject"]["data"] == {"token": "[REDACTED]"}


def test_envelope_time_is_used_when_the_event_has_none() -> None:
    inner = {"kind": "Event", "verb": "delete", "objectRef": {"resource": "networkpolicies"}}
    doc = normalise_record("kubernetes", _aks(inner))
    assert doc["@timestamp"] == "2026-11-23T09:15:00.123Z"
    assert "tags" not in doc
    panther = {"kind": "Event", "verb": "get", "p_event_time": "2026-11-23T08:00:00.5Z"}
    assert normalise_record("kubernetes", json.dumps(panther))["@timestamp"] == "2026-11-23T08:00:00.500Z"


def test_secret_named_only_through_unicode_escapes_is_still_redacted() -> None:
    # Redaction is skipped for lines that cannot name a Secret; "Secret" spelled with \u escapes still
    # names one once parsed, as does an escaped "secrets" resource.
    event = _secret_event("create", requestObject=copy.deepcopy(_APPLIED))
    event["objectRef"]["resource"] = "pods"
    raw = json.dumps(event).replace('"kind": "Secret"', '"kind": "S\\u0065cret"')
    raw = raw.replace("secrets", "s\\u0065crets")
    assert "ecret" not in raw
    doc = normalise(raw)
    assert doc["kubernetes"]["audit"]["requestObject"]["data"] == {"password": REDACTED}
    merge_patch = _secret_event("patch", requestObject={"data": {"password": "aHVudGVy"}})
    raw = json.dumps(merge_patch).replace("secrets", "s\\u0065crets")
    assert "ecret" not in raw
    doc = normalise(raw)
    assert doc["kubernetes"]["audit"]["requestObject"]["data"] == {"password": REDACTED}
    assert doc["soar"]["redacted"] == ["kubernetes.audit.requestObject", "event.original"]
