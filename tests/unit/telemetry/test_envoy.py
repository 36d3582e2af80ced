"""Envoy / Istio access logs: text layouts, JSON, mTLS, RBAC, failures, fixtures, robustness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soar.errors import NormalisationError
from soar.telemetry.normalise import DeadLetter, Normalised, normalise_lines, normalise_record
from soar.telemetry.normalisers import envoy as envoy_module
from soar.telemetry.normalisers import envoy_json
from soar.telemetry.normalisers.envoy import normalise
from tests.unit.telemetry.fuzzing import (
    FUZZ,
    JSON_VALUES_WITH_NAN,
    ONE_LINERS,
    assert_non_blank_lines_numbered,
    assert_only_normalisation_errors,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "telemetry" / "envoy"

MTLS: dict[str, Any] = {
    "start_time": "2026-03-02T09:15:02.412Z",
    "method": "POST",
    "path": "/api/v2/payments?idempotency=k1",
    "protocol": "HTTP/2",
    "response_code": 201,
    "response_flags": "-",
    "response_code_details": "via_upstream",
    "bytes_received": 1288,
    "bytes_sent": 311,
    "duration": 87,
    "upstream_service_time": "85",
    "x_forwarded_for": "198.51.100.23, 10.0.0.5",
    "user_agent": "BankApp/5.2",
    "request_id": "a1f4c2d0",
    "authority": "payments-api.payments.svc.cluster.local:8443",
    "upstream_host": "10.20.4.21:8443",
    "upstream_cluster": "inbound|8443||",
    "downstream_local_address": "10.20.4.21:8443",
    "downstream_remote_address": "10.20.9.3:36214",
    "requested_server_name": "outbound_.8443_._.payments-api.payments.svc.cluster.local",
    "route_name": "default",
    "downstream_peer_uri_san": "spiffe://bank.example/ns/payments/sa/payments-web",
    "downstream_local_uri_san": "spiffe://bank.example/ns/payments/sa/payments-api",
    "downstream_tls_version": "TLSv1.3",
    "connection_security_policy": "mutual_tls",
    "source_workload": "payments-web",
    "source_namespace": "payments",
    "destination_workload": "payments-api",
    "destination_namespace": "payments",
    "destination_service": "payments-api.payments.svc.cluster.local",
    "country": "DE",
}


def _json(**changes: Any) -> dict[str, Any]:
    event = {**MTLS, **changes}
    return normalise_record("envoy", json.dumps({k: v for k, v in event.items() if v is not ...}))


def test_mtls_call_fills_ecs_and_mesh_fields() -> None:
    doc = _json()
    assert doc["@timestamp"] == "2026-03-02T09:15:02.412Z"
    assert doc["event"]["module"] == "envoy"
    assert doc["event"]["dataset"] == "envoy.access"
    assert doc["event"]["category"] == ["network", "web"]
    assert doc["event"]["type"] == ["access"]
    assert doc["event"]["outcome"] == "success"
    assert doc["event"]["duration"] == 87_000_000
    assert doc["source"]["ip"] == "10.20.9.3"
    assert doc["source"]["port"] == 36214
    assert doc["source"]["geo"]["country_iso_code"] == "DE"
    assert doc["client"]["ip"] == "198.51.100.23"
    assert doc["destination"] == {
        "ip": "10.20.4.21",
        "port": 8443,
        "domain": "payments-api.payments.svc.cluster.local",
    }
    assert doc["url"]["path"] == "/api/v2/payments"
    assert doc["url"]["query"] == "idempotency=k1"
    assert doc["url"]["original"] == "/api/v2/payments?idempotency=k1"
    assert doc["http"]["request"]["method"] == "POST"
    assert doc["http"]["response"]["status_code"] == 201
    assert doc["http"]["version"] == "2"
    assert doc["network"]["protocol"] == "http"
    assert doc["network"]["direction"] == "ingress"
    assert doc["tls"]["version"] == "1.3"
    assert doc["tls"]["version_protocol"] == "tls"
    assert doc["tls"]["client"]["x509"]["alternative_names"] == [
        "spiffe://bank.example/ns/payments/sa/payments-web"
    ]
    assert doc["service"]["name"] == "payments-api"
    mtls = doc["envoy"]["mtls"]
    assert mtls["connection_security_policy"] == "mutual_tls"
    assert mtls["peer_principal"] == "spiffe://bank.example/ns/payments/sa/payments-web"
    assert mtls["mutual"] is True
    assert doc["envoy"]["upstream"]["service_time"] == 85
    assert doc["envoy"]["source"] == {"workload": "payments-web", "namespace": "payments"}
    assert "response_flags" not in doc["envoy"]
    assert "rbac" not in doc["envoy"]


def test_plaintext_call_has_no_tls_and_dash_is_absent() -> None:
    doc = _json(
        downstream_peer_uri_san="-",
        downstream_local_uri_san=...,
        downstream_tls_version=...,
        connection_security_policy="none",
    )
    assert "tls" not in doc
    assert doc["envoy"]["mtls"] == {"connection_security_policy": "none", "mutual": False}


def test_rbac_denial_from_response_code_details() -> None:
    doc = _json(
        response_code=403,
        response_code_details="rbac_access_denied_matched_policy[ns[ledger]-policy[deny-export]-rule[0]]",
    )
    assert doc["event"]["type"] == ["access", "denied"]
    assert doc["event"]["outcome"] == "failure"
    assert doc["envoy"]["rbac"] == {"policy": "ns[ledger]-policy[deny-export]-rule[0]", "result": "denied"}


def test_rbac_fields_given_explicitly() -> None:
    doc = _json(rbac_result="DENIED", rbac_policy="only-payments", response_code=403)
    assert doc["envoy"]["rbac"] == {"policy": "only-payments", "result": "denied"}
    assert "denied" in doc["event"]["type"]


def test_5xx_is_failure_with_flags_as_array() -> None:
    doc = _json(response_code=503, response_flags="UF,URX")
    assert doc["event"]["outcome"] == "failure"
    assert doc["envoy"]["response_flags"] == ["UF", "URX"]


def test_epoch_millisecond_start_time() -> None:
    assert _json(start_time=1772442902412)["@timestamp"] == "2026-03-02T09:15:02.412Z"
    assert _json(start_time="1772442902412")["@timestamp"] == "2026-03-02T09:15:02.412Z"


def test_4xx_other_than_403_is_success() -> None:
    assert _json(response_code=404)["event"]["outcome"] == "success"


def test_unknown_fields_kept_under_envoy() -> None:
    doc = _json(my_custom_header="v1", tenant={"id": 7})
    assert doc["envoy"]["my_custom_header"] == "v1"
    assert doc["envoy"]["tenant"] == {"id": 7}


def test_istio_default_text_format() -> None:
    raw = (
        '[2026-03-02T09:14:58.140Z] "POST /api/v2/payments HTTP/2" 503 UF,URX '
        "upstream_reset_before_response_started{connection_failure} - "
        '"delayed_connect_error:_111" 1288 91 3004 - "198.51.100.23" "BankApp/5.2 (iOS 17.3)" '
        '"0c1d6e55" "payments.bank.example" "10.20.4.21:8443" '
        "outbound|8443||payments-api.payments.svc.cluster.local 10.20.1.7:51240 10.20.9.3:8443 "
        "10.20.1.7:40120 - default"
    )
    doc = normalise(raw)
    assert doc["event"]["original"] == raw
    assert doc["envoy"]["format"] == "istio-text"
    assert doc["user_agent"]["original"] == "BankApp/5.2 (iOS 17.3)"
    assert doc["envoy"]["upstream"]["transport_failure_reason"] == "delayed_connect_error:_111"
    assert doc["envoy"]["direction"] == "outbound"
    assert doc["network"]["direction"] == "egress"
    assert doc["source"]["ip"] == "10.20.1.7"
    assert doc["client"]["ip"] == "198.51.100.23"
    assert doc["event"]["outcome"] == "failure"
    assert "upstream_service_time" not in doc["envoy"]["upstream"]


def test_envoy_default_text_uses_first_forwarded_hop_as_source() -> None:
    raw = (
        '[2026-03-02T09:15:01.777Z] "POST /v1/transfers?dryRun=true HTTP/1.1" 201 - 734 188 42 40 '
        '"203.0.113.50, 10.0.0.5" "curl/8.5.0" "e3b1" "gw.bank.example" "tcp://10.20.4.21:8443"'
    )
    doc = normalise(raw)
    assert doc["envoy"]["format"] == "envoy-text"
    assert doc["source"]["ip"] == "203.0.113.50"
    assert doc["related"]["ip"] == ["203.0.113.50", "10.0.0.5"]
    assert doc["url"]["domain"] == "gw.bank.example"
    assert doc["envoy"]["x_forwarded_for"] == ["203.0.113.50", "10.0.0.5"]


def test_tcp_connection_has_no_http_method() -> None:
    raw = (
        '[2026-03-02T09:15:00.310Z] "- - -" 0 UF - - "-" 0 0 1002 - "-" "-" "-" "-" "10.20.6.2:5432" '
        "outbound|5432||postgres.core.svc.cluster.local - 10.20.6.2:5432 10.20.1.7:40200 - -"
    )
    doc = normalise(raw)
    assert doc["event"]["action"] == "tcp-connection"
    assert doc["event"]["outcome"] == "failure"
    assert "status_code" not in doc["http"].get("response", {})


def test_envoy_gateway_header_style_keys() -> None:
    raw = json.dumps(
        {
            ":authority": "psd2.bank.example",
            "start_time": "2026-03-02T09:15:06.100Z",
            "method": "GET",
            "x-envoy-origin-path": "/.env",
            "user-agent": "scanner/1.0",
            "x-forwarded-for": "192.0.2.10",
            "response_code": 404,
        }
    )
    doc = normalise(raw)
    assert doc["url"]["path"] == "/.env"
    assert doc["url"]["domain"] == "psd2.bank.example"
    assert doc["user_agent"]["original"] == "scanner/1.0"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start_time": ...}, "start_time"),
        ({"start_time": "02/03/2026"}, "start_time"),
        ({"response_code": "OK"}, "response_code"),
        ({"duration": [1]}, "duration"),
        ({"duration": "9" * 30}, "duration"),
        ({"bytes_sent": -1}, "bytes_sent"),
        ({"user_agent": {"a": 1}}, "user_agent"),
    ],
)
def test_bad_records_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(NormalisationError) as info:
        _json(**changes)
    assert info.value.field == field


def test_envoy_application_log_is_not_an_access_log() -> None:
    with pytest.raises(NormalisationError, match="application"):
        normalise("[2026-03-02 09:15:30.492][1][warning][config] [grpc_stream.h:201] stream closed")


def _run(name: str) -> list[Normalised | DeadLetter]:
    path = FIXTURES / name
    return list(normalise_lines("envoy", path.read_text("utf-8").splitlines(), file=str(path)))


def test_fixture_files() -> None:
    text = _run("istio_text.log")
    assert [(type(r), r.line) for r in text] == [(Normalised, n) for n in (1, 2, 4, 5, 6)]
    assert all(isinstance(r, Normalised) for r in _run("json.log"))
    assert len(_run("json.log")) == 5
    bad = _run("bad.log")
    assert all(isinstance(r, DeadLetter) and r.error for r in bad)
    assert [r.line for r in bad] == [1, 2, 3, 4, 6, 7, 8, 9]


@FUZZ
@given(st.text(max_size=300))
def test_random_text_only_raises_normalisation_error(raw: str) -> None:
    assert_only_normalisation_errors(normalise, raw)
    assert_only_normalisation_errors(normalise, "[2026-03-02T09:15:00Z] " + raw)


_TOKENS = st.text(alphabet=st.characters(blacklist_characters='" \t\n\r\x0b\x0c'), min_size=1, max_size=12)


@FUZZ
@given(st.sampled_from([11, 17, 20]), st.data())
def test_random_text_layouts_only_raise_normalisation_error(count: int, data: st.DataObject) -> None:
    tokens = data.draw(st.lists(_TOKENS | _TOKENS.map(lambda t: f'"{t}"'), min_size=count, max_size=count))
    request = data.draw(st.sampled_from(['"GET /a?b=c HTTP/1.1"', '"- - -"', '"GET /"', '"x y z"']))
    assert_only_normalisation_errors(normalise, f"[2026-03-02T09:15:00.000Z] {request} " + " ".join(tokens))


@FUZZ
@given(st.dictionaries(st.text(max_size=12), JSON_VALUES_WITH_NAN, max_size=6))
def test_random_json_objects_only_raise_normalisation_error(obj: dict[str, Any]) -> None:
    assert_only_normalisation_errors(normalise, json.dumps(obj))


@FUZZ
@given(st.sampled_from(sorted(MTLS)), JSON_VALUES_WITH_NAN | st.just(...))
def test_mutated_valid_events_only_raise_normalisation_error(key: str, value: Any) -> None:
    event = {**MTLS, key: value}
    assert_only_normalisation_errors(normalise, json.dumps({k: v for k, v in event.items() if v is not ...}))


@FUZZ
@given(ONE_LINERS)
def test_every_bad_line_is_a_dead_letter_with_its_line(lines: list[str]) -> None:
    results = list(normalise_lines("envoy", lines))
    assert_non_blank_lines_numbered(results, lines)


def _general(obj: dict[str, Any], raw: str) -> dict[str, Any]:
    return envoy_module._document(envoy_module._clean(obj), raw, "json")


def _same_document(fast: dict[str, Any], general: dict[str, Any]) -> None:
    assert json.dumps(fast) == json.dumps(general)  # the same fields in the same order, recursively
    assert fast == general


def test_the_one_pass_json_path_knows_every_field_the_general_path_knows() -> None:
    assert set(envoy_json.FIELDS) == envoy_module._KNOWN


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"response_flags": "UF,URX", "response_code": 503, "connection_security_policy": "none"},
        {"response_code_details": "rbac_access_denied_matched_policy[ns[payments]-policy[deny-all]]"},
        {"response_code_details": "ext_authz_denied", "rbac_policy": "p", "rbac_result": "ALLOWED"},
        {"start_time": "1772442902412", "x_forwarded_for": "-", "downstream_remote_address": None},
        {"method": "-", "path": "", "authority": "[::1]:8443", "protocol": "-", "response_code": 0},
    ],
)
def test_usual_json_lines_take_the_one_pass_path_with_the_same_document(changes: dict[str, Any]) -> None:
    obj = {**MTLS, "upstream_service_time": 85, **changes}
    raw = json.dumps(obj)
    fast = envoy_json.fast_json(obj, raw)
    assert fast is not None
    _same_document(fast, _general(obj, raw))


@pytest.mark.parametrize(
    "changes",
    [
        {"upstream_service_time": "85"},
        {"extra": "x"},
        {"user-agent": "curl"},
        {"duration": -1},
        {"country": 7},
    ],
)
def test_unusual_json_lines_go_the_general_way(changes: dict[str, Any]) -> None:
    obj = {**MTLS, **changes}
    assert envoy_json.fast_json(obj, json.dumps(obj)) is None


def _result(make: Any) -> tuple[str, Any]:
    """What a path makes of a line: its document as JSON (order kept), its error, or None (declined)."""
    try:
        made = make()
    except NormalisationError as exc:
        return "error", str(exc)
    return "made", None if made is None else json.dumps(made)


_STATUS = st.sampled_from([0, 200, 302, 403, 404, 499, 500, 503, 10**12, True])
_TEXTS = st.sampled_from(
    ["-", "", "a|b", "UF,URX", "inbound|80||x", "mutual_tls", "rbac_access_denied_matched_policy[]"]
)


@FUZZ
@given(
    st.dictionaries(st.sampled_from(sorted(MTLS)), JSON_VALUES_WITH_NAN | _TEXTS | _STATUS, max_size=4),
    _STATUS,
)
def test_the_one_pass_path_never_differs_from_the_general_one(changes: dict[str, Any], status: Any) -> None:
    obj = {**MTLS, "upstream_service_time": 85, "response_code": status, **changes}
    raw = json.dumps(obj)
    fast = _result(lambda: envoy_json.fast_json(obj, raw))
    if fast != ("made", None):  # taken: the general path gives the same document, or the same error
        assert fast == _result(lambda: _general(obj, raw))


@pytest.mark.parametrize("order", ["reversed", "sorted", "fewer keys", "reversed again"])
def test_lines_with_their_keys_in_another_order_give_the_same_document(order: str) -> None:
    items = list({**MTLS, "upstream_service_time": 85}.items())
    if order.startswith("reversed"):
        items.reverse()
    elif order == "sorted":
        items.sort()
    else:
        items = items[::2]
    obj = dict(items)
    raw = json.dumps(obj)
    fast = envoy_json.fast_json(obj, raw)
    assert fast is not None
    _same_document(fast, _general(obj, raw))
