from __future__ import annotations

from soar.errors import InputError, NormalisationError, RuleError, SoarError


def test_input_error_names_file_line_and_field_on_one_line() -> None:
    err = NormalisationError("bad\ntimestamp", file="okta.jsonl", line=7, field="published")
    assert str(err) == "okta.jsonl:7: published: bad timestamp"
    assert isinstance(err, InputError)
    assert isinstance(err, SoarError)


def test_rule_error_carries_rule_id() -> None:
    err = RuleError("unknown field", file="detections/x.yml", line=12, field="verbb", rule_id="abc")
    assert str(err) == "detections/x.yml:12: verbb: rule abc: unknown field"
    assert err.rule_id == "abc"


def test_line_without_file() -> None:
    assert str(InputError("not JSON", line=3)) == "line 3: not JSON"
