"""Every Envoy/Istio and OPA sample in ../shared/corpora normalises, or is dead-lettered for a stated reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from soar.errors import NormalisationError
from soar.telemetry.normalise import DeadLetter, Normalised, normalise_lines, normalise_record

pytestmark = pytest.mark.corpora

# Samples that are not usable access logs, with the reason soar gives (see envoy_istio/PROVENANCE.md).
_NOT_ACCESS_LOGS = {
    "envoy-app-log": "application (component) log line, not an access log",
    # Envoy's docs example of a custom json_format ({protocol, duration, my_custom_header}): no %START_TIME%.
    "envoy-json_format": "start_time: missing",
}


def _envoy_samples(corpora: Path) -> list[dict[str, Any]]:
    path = corpora / "telemetry" / "envoy_istio" / "envoy_access_log_samples.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_every_envoy_istio_access_log_sample_normalises(corpora: Path) -> None:
    samples = _envoy_samples(corpora)
    assert len(samples) == 10
    results = list(normalise_lines("envoy", [s["raw_line"] for s in samples]))
    assert len(results) == len(samples)
    for sample, result in zip(samples, results, strict=True):
        reason = _NOT_ACCESS_LOGS.get(sample["format"])
        if reason:
            assert isinstance(result, DeadLetter), sample["format"]
            assert reason in result.error
            continue
        assert isinstance(result, Normalised), (sample["format"], getattr(result, "error", ""))
        doc = result.document
        assert doc["event"]["original"] == sample["raw_line"]
        assert doc["http"]["request"]["method"] in {"GET", "POST"}
        assert doc["url"]["path"].startswith("/")
        assert doc["envoy"]["response_code"] in {200, 204, 418, 500}


def test_istio_client_and_server_sidecar_lines_agree(corpora: Path) -> None:
    samples = [s for s in _envoy_samples(corpora) if s["source_repo"] == "istio/istio.io"]
    client, server = (normalise_record("envoy", s["raw_line"]) for s in samples)
    assert client["http"]["request"]["id"] == server["http"]["request"]["id"]
    assert client["network"]["direction"] == "egress"
    assert server["network"]["direction"] == "ingress"
    assert client["source"]["ip"] == server["source"]["ip"] == "10.44.1.23"


def test_envoy_gateway_json_sample(corpora: Path) -> None:
    (sample,) = [s for s in _envoy_samples(corpora) if s["format"] == "envoy-gateway-default-json"]
    doc = normalise_record("envoy", sample["raw_line"])
    assert doc["event"]["outcome"] == "failure"
    assert doc["url"]["path"] == "/get"
    assert doc["url"]["domain"] == "www.example.com"
    assert doc["source"]["ip"] == "192.168.65.4"
    assert doc["user_agent"]["original"] == "curl/8.7.1"


def test_opa_decision_log_samples_normalise(corpora: Path) -> None:
    path = corpora / "telemetry" / "opa" / "opa_decision_log_samples.jsonl"
    events = [json.loads(line)["event"] for line in path.read_text("utf-8").splitlines() if line.strip()]
    assert events
    for event in events:
        doc = normalise_record("opa", json.dumps(event))
        assert doc["event"]["id"] == event["decision_id"]
        assert doc["opa"]["allowed"] is True  # the docs give result "true" as a string
        assert doc["url"]["path"] == "/salary/bob"
        assert doc["opa"]["bundle_revisions"] == ["W3sibCI6InN5cy9jYXRhbG9nIiwicyI6NDA3MX1d"]


@pytest.mark.parametrize("version", ["v3", "v2"])
def test_opa_envoy_ext_authz_inputs_normalise_inside_a_decision(corpora: Path, version: str) -> None:
    path = corpora / "telemetry" / "opa" / "opa_envoy_ext_authz_input_examples.json"
    data = json.loads(path.read_text("utf-8"))
    decision = {
        "decision_id": f"ext-authz-{version}",
        "path": "envoy/authz/allow",
        "input": data[version],
        "result": False,
        "timestamp": "2026-03-02T09:15:03Z",
        "msg": "Decision Log",
        "type": "openpolicyagent.org/decision_logs",
    }
    doc = normalise_record("opa", json.dumps(decision))
    assert doc["event"]["outcome"] == "failure"
    assert doc["source"]["ip"] == "172.17.0.1"
    assert doc["source"]["port"] == 61402
    assert doc["http"]["request"]["method"] == "POST"
    assert doc["url"]["path"] == "/people"
    assert doc["url"]["query"] == "lang=en"
    assert doc["user_agent"]["original"] == "curl/7.54.0"
    # v3 carries the docs' "172.17.06" typo: kept as an address, never put in an ip field.
    destination = doc["destination"]
    assert destination.get("ip") == (None if version == "v3" else "172.17.0.6")


def test_bare_ext_authz_input_is_not_a_decision_log(corpora: Path) -> None:
    path = corpora / "telemetry" / "opa" / "opa_envoy_ext_authz_input_examples.json"
    data = json.loads(path.read_text("utf-8"))
    with pytest.raises(NormalisationError, match="timestamp"):
        normalise_record("opa", json.dumps(data["v3"]))
