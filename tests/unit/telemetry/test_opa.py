"""OPA decision logs: plain, Envoy ext_authz and payment-policy inputs, fixtures, robustness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soar.errors import NormalisationError
from soar.telemetry.normalise import DeadLetter, Normalised, normalise_lines, normalise_record
from soar.telemetry.normalisers import opa_free_form
from soar.telemetry.normalisers._util import parse_json_object
from soar.telemetry.normalisers.opa import normalise
from soar.telemetry.sources import Source
from soar.telemetry.templates import index_template, mappings
from tests.unit.telemetry.fuzzing import (
    FUZZ,
    JSON_VALUES_WITH_NAN,
    ONE_LINERS,
    assert_non_blank_lines_numbered,
    assert_only_normalisation_errors,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "telemetry" / "opa"

PAYMENT: dict[str, Any] = {
    "decision_id": "d-1",
    "path": "bank/payments/authz/allow",
    "input": {
        "subject": {"user": "t.kowalski", "roles": ["payments-operator"], "mfa": False},
        "action": "payment.approve",
        "resource": {"type": "payment", "amount": 250000, "currency": "EUR", "customer_id": "CUST-1"},
        "context": {"risk_score": 0.91, "dual_approval": True, "approvers": ["a.schmidt"], "channel": "web"},
    },
    "result": {"allow": False, "reasons": ["mfa required"]},
    "bundles": {"payments-policies": {"revision": "git-5f3e2a1"}},
    "labels": {"id": "opa-7c9d", "version": "0.68.0"},
    "timestamp": "2026-03-02T09:15:03.001234567Z",
    "metrics": {"timer_rego_query_eval_ns": 41234},
    "requested_by": "10.20.4.21:51530",
    "req_id": 413,
}

EXT_AUTHZ: dict[str, Any] = {
    "decision_id": "d-2",
    "path": "envoy/authz/allow",
    "input": {
        "attributes": {
            "source": {
                "address": {"socketAddress": {"address": "10.20.7.41", "portValue": 53320}},
                "principal": "spiffe://bank.example/ns/marketing/sa/campaign-runner",
            },
            "destination": {"address": {"socketAddress": {"address": "10.20.5.9", "portValue": 8080}}},
            "request": {
                "http": {
                    "method": "GET",
                    "path": "/api/v2/ledger/entries?limit=5000",
                    "host": "ledger.ledger.svc.cluster.local:8080",
                    "headers": {"user-agent": "python-requests/2.31.0", "x-request-id": "b2c5"},
                }
            },
        },
        "parsed_path": ["api", "v2", "ledger", "entries"],
    },
    "result": {"allowed": False, "http_status": 403},
    "timestamp": "2026-03-02T09:15:03.020Z",
}


def test_payment_policy_denial_lifts_typed_facts() -> None:
    doc = normalise_record("opa", json.dumps(PAYMENT))
    assert doc["@timestamp"] == "2026-03-02T09:15:03.001Z"
    assert doc["event"]["id"] == "d-1"
    assert doc["event"]["module"] == "opa"
    assert doc["event"]["dataset"] == "opa.decision"
    assert doc["event"]["category"] == ["iam"]
    assert doc["event"]["type"] == ["denied"]
    assert doc["event"]["outcome"] == "failure"
    opa = doc["opa"]
    assert opa["allowed"] is False
    assert opa["subject"] == "t.kowalski"
    assert opa["action"] == "payment.approve"
    assert opa["amount"] == 250000
    assert opa["risk_score"] == pytest.approx(0.91)
    assert opa["mfa"] is False
    assert opa["dual_approval"] is True
    assert opa["approvers"] == ["a.schmidt"]
    assert opa["bundle_revisions"] == ["git-5f3e2a1"]
    # The free-form objects are stored as OPA logged them: numbers and booleans keep their JSON type.
    assert opa["input"] == PAYMENT["input"]
    assert opa["result"] == {"allow": False, "reasons": ["mfa required"]}
    assert opa["labels"] == {"id": "opa-7c9d", "version": "0.68.0"}
    assert doc["user"] == {"name": "t.kowalski", "roles": ["payments-operator"]}
    assert doc["observer"]["version"] == "0.68.0"


def test_payment_policy_allow_with_boolean_result() -> None:
    event = {**PAYMENT, "result": True}
    doc = normalise(json.dumps(event))
    assert doc["event"]["type"] == ["allowed"]
    assert doc["event"]["outcome"] == "success"
    assert doc["opa"]["result"] == {"value": True}  # flattened needs an object at its root


def test_ext_authz_denial() -> None:
    doc = normalise(json.dumps(EXT_AUTHZ))
    assert doc["event"]["outcome"] == "failure"
    assert doc["opa"]["subject"] == "spiffe://bank.example/ns/marketing/sa/campaign-runner"
    assert doc["user"]["name"] == "spiffe://bank.example/ns/marketing/sa/campaign-runner"
    assert doc["source"] == {"ip": "10.20.7.41", "address": "10.20.7.41", "port": 53320}
    assert doc["destination"]["ip"] == "10.20.5.9"
    assert doc["http"]["request"] == {"method": "GET", "id": "b2c5"}
    assert doc["url"]["path"] == "/api/v2/ledger/entries"
    assert doc["url"]["query"] == "limit=5000"
    assert doc["url"]["domain"] == "ledger.ledger.svc.cluster.local"
    assert doc["user_agent"]["original"] == "python-requests/2.31.0"
    assert doc["opa"]["input"]["parsed_path"] == ["api", "v2", "ledger", "entries"]


def test_ext_authz_allow_and_invalid_ip_dropped() -> None:
    event = json.loads(json.dumps(EXT_AUTHZ))
    event["result"] = True
    event["input"]["attributes"]["destination"]["address"]["socketAddress"]["address"] = "172.17.06"
    doc = normalise(json.dumps(event))
    assert doc["event"]["outcome"] == "success"
    assert "ip" not in doc["destination"]
    assert doc["destination"]["address"] == "172.17.06"


def test_plain_input_and_string_result() -> None:
    raw = json.dumps(
        {
            "decision_id": "d-3",
            "path": "bank/accounts/read",
            "input": {"user": "svc-statements", "method": "GET", "path": ["accounts", "DE89", "statements"]},
            "result": "false",
            "timestamp": "2026-03-02T09:15:04Z",
        }
    )
    doc = normalise(raw)
    assert doc["event"]["original"] == raw
    assert doc["opa"]["allowed"] is False
    assert doc["url"]["path"] == "/accounts/DE89/statements"
    assert doc["http"]["request"]["method"] == "GET"
    assert doc["opa"]["subject"] == "svc-statements"


def test_result_without_decision_is_unknown() -> None:
    doc = normalise(json.dumps({**PAYMENT, "result": {"score": 3}}))
    assert doc["event"]["outcome"] == "unknown"
    assert doc["event"]["type"] == ["info"]
    assert "allowed" not in doc["opa"]


def test_unknown_fields_kept_under_opa() -> None:
    doc = normalise(json.dumps({**PAYMENT, "msg": "Decision Log", "custom": {"tenant": 7}}))
    assert doc["opa"]["msg"] == "Decision Log"
    assert doc["opa"]["custom"] == {"tenant": "7"}


def test_free_form_objects_keep_nulls_lists_and_types() -> None:
    labels = {"id": "opa-7c9d", "version": "0.68.0", "replica": 3, "canary": True}
    result = [{"allow": True}, None, 1.5]
    doc = normalise(
        json.dumps({**PAYMENT, "labels": labels, "result": result, "input": {"a": None, "": [1]}})
    )
    assert doc["opa"]["labels"] == labels
    assert doc["opa"]["result"] == {"value": result}
    assert doc["opa"]["input"] == {"a": None, "": [1]}
    assert doc["service"]["id"] == "opa-7c9d"
    assert doc["observer"]["version"] == "0.68.0"


def test_non_string_label_version_is_not_an_error() -> None:
    doc = normalise(json.dumps({**PAYMENT, "labels": {"id": 7, "version": {"major": 0}}}))
    assert doc["service"]["id"] == "7"
    assert "version" not in doc["observer"]
    assert doc["opa"]["labels"] == {"id": 7, "version": {"major": 0}}


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"n": value}
    return value


def test_sixteen_levels_are_kept_as_they_are() -> None:
    doc = normalise(json.dumps({**PAYMENT, "input": _nested(16)}))
    assert doc["opa"]["input"] == _nested(16)


def test_deeper_nesting_is_kept_as_json_text_below_level_sixteen() -> None:
    # Elasticsearch rejects a flattened value deeper than its depth_limit (20): the record would be
    # dead-lettered and hidden from detections. Below level 16 the subtree is kept as its JSON text.
    doc = normalise(json.dumps({**PAYMENT, "input": [_nested(30)]}))
    node = doc["opa"]["input"]["value"][0]  # "value" is level 1, the list level 2
    depth = 3
    while isinstance(node.get("n"), dict):
        node, depth = node["n"], depth + 1
    assert depth == 16
    assert json.loads(node["n"]) == _nested(30 - (depth - 3) - 1)


def _cut(value: Any, depth: int) -> Any:
    """The documented bound: an object or array below level 16 is replaced by its JSON text."""
    if not isinstance(value, dict | list):
        return value
    if depth > 16:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, dict):
        return {k: _cut(v, depth + 1) for k, v in value.items()}
    return [_cut(v, depth + 1) for v in value]


@pytest.mark.parametrize("levels", [14, 15, 16, 17, 18])
@pytest.mark.parametrize("wrap", ["object", "array"])
def test_depth_bound_at_the_edge_matches_the_full_walk(levels: int, wrap: str) -> None:
    # The bound is skipped for lines whose brackets cannot nest that deep: right at the limit, each
    # object must still be cut exactly where a walk of the whole value cuts it.
    value: Any = _nested(levels) if wrap == "object" else [_nested(levels)]
    doc = normalise(json.dumps({**PAYMENT, "input": value}))
    root = value if wrap == "object" else {"value": value}
    assert doc["opa"]["input"] == {k: _cut(v, 2) for k, v in root.items()}


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = "{[" * 20 + '\\"' + "]}" * 20
    doc = normalise(json.dumps({**PAYMENT, "input": {"q": text, "deep": _nested(14)}}))
    assert doc["opa"]["input"] == {"q": text, "deep": _nested(14)}


def test_template_maps_free_form_objects_as_flattened() -> None:
    own = mappings(Source.OPA)["properties"]["opa"]["properties"]
    for key in ("input", "result", "labels"):
        assert own[key]["type"] == "flattened"
    assert own["amount"] == {"type": "scaled_float", "scaling_factor": 1000}
    assert own["mfa"] == {"type": "boolean"}
    rendered = index_template(Source.OPA, opensearch=True)["template"]["mappings"]
    assert rendered["properties"]["opa"]["properties"]["input"] == {"type": "flat_object"}


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("timestamp",), "yesterday", "timestamp"),
        (("decision_id",), None, "decision_id"),
        (("input", "subject", "mfa"), "yes", "input.subject.mfa"),
        (("input", "context", "risk_score"), "high", "input.context.risk_score"),
        (("input", "resource", "amount"), [1], "input.resource.amount"),
        (("bundles",), "authz", "bundles"),
    ],
)
def test_bad_records_name_the_field(path: tuple[str, ...], value: Any, field: str) -> None:
    event = json.loads(json.dumps(PAYMENT))
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(NormalisationError) as info:
        normalise(json.dumps(event))
    assert info.value.field == field


def _run(name: str) -> list[Normalised | DeadLetter]:
    path = FIXTURES / name
    return list(normalise_lines("opa", path.read_text("utf-8").splitlines(), file=str(path)))


def test_fixture_files() -> None:
    good = _run("decisions.jsonl")
    assert [(type(r), r.line) for r in good] == [(Normalised, n) for n in range(1, 6)]
    outcomes = [r.document["event"]["outcome"] for r in good if isinstance(r, Normalised)]
    assert outcomes == ["success", "failure", "failure", "success", "failure"]
    bad = _run("bad.jsonl")
    assert all(isinstance(r, DeadLetter) and r.error for r in bad)
    assert [r.line for r in bad] == [1, 2, 3, 4, 6, 7]


@FUZZ
@given(st.text(max_size=300))
def test_random_text_only_raises_normalisation_error(raw: str) -> None:
    assert_only_normalisation_errors(normalise, raw)


@FUZZ
@given(st.dictionaries(st.text(max_size=12), JSON_VALUES_WITH_NAN, max_size=6))
def test_random_json_objects_only_raise_normalisation_error(obj: dict[str, Any]) -> None:
    assert_only_normalisation_errors(normalise, json.dumps(obj))
    assert_only_normalisation_errors(normalise, json.dumps({**PAYMENT, "input": obj, "result": obj}))


@FUZZ
@given(st.dictionaries(st.text(max_size=12), JSON_VALUES_WITH_NAN, max_size=6), JSON_VALUES_WITH_NAN)
def test_random_input_and_result_are_stored_unchanged(data: dict[str, Any], result: Any) -> None:
    raw = json.dumps({**PAYMENT, "input": data, "result": result})
    try:
        doc = normalise(raw)
    except NormalisationError:
        return  # a lifted field of the wrong type, e.g. "subject": 1
    parsed = parse_json_object(raw)  # the shared parse (it turns integers beyond 64 bits into floats)
    assert json.dumps(doc["opa"]["input"]) == json.dumps(parsed["input"])
    if result is None:
        assert "result" not in doc["opa"]
    else:
        wrapped = parsed["result"] if isinstance(parsed["result"], dict) else {"value": parsed["result"]}
        assert json.dumps(doc["opa"]["result"]) == json.dumps(wrapped)
    assert doc["event"]["original"] == raw


@FUZZ
@given(
    st.sampled_from([PAYMENT, EXT_AUTHZ]),
    st.sampled_from(["subject", "action", "resource", "context", "attributes", "user", "method", "path"]),
    JSON_VALUES_WITH_NAN,
)
def test_mutated_inputs_only_raise_normalisation_error(base: dict[str, Any], key: str, value: Any) -> None:
    assert_only_normalisation_errors(normalise, json.dumps({**base, "input": {**base["input"], key: value}}))


@FUZZ
@given(st.sampled_from(sorted(PAYMENT)), JSON_VALUES_WITH_NAN)
def test_mutated_top_level_only_raises_normalisation_error(key: str, value: Any) -> None:
    assert_only_normalisation_errors(normalise, json.dumps({**PAYMENT, key: value}))


@FUZZ
@given(ONE_LINERS)
def test_every_bad_line_is_a_dead_letter_with_its_line(lines: list[str]) -> None:
    results = list(normalise_lines("opa", lines))
    assert_non_blank_lines_numbered(results, lines)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_TRICKY_TEXT = st.text(alphabet='{}[]"\\ab\u00e9\u4e2d\n', max_size=6)


def _nest(levels: int, text: str, as_list: bool) -> Any:
    value: Any = text
    for level in range(levels):
        value = [value, text] if as_list and level % 2 else {text or "k": value, "s": text}
    return value


@FUZZ
@given(
    st.lists(st.tuples(st.integers(0, 20), _TRICKY_TEXT, st.booleans()), min_size=1, max_size=4),
    st.booleans(),
)
def test_the_nesting_check_is_the_depth_of_the_line(
    parts: list[tuple[int, str, bool]], ascii_only: bool
) -> None:
    line = {"decision_id": "d", "input": {f"p{n}": _nest(*part) for n, part in enumerate(parts)}}
    raw = json.dumps(line, ensure_ascii=ascii_only)
    assert opa_free_form.may_nest_too_deep(raw) == (_depth(json.loads(raw)) > opa_free_form._FLAT_DEPTH)
