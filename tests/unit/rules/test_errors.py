"""Constructs Query DSL cannot express become RuleErrors naming the rule, file, line and construct."""

from __future__ import annotations

from pathlib import Path

import pytest

from soar.errors import RuleError
from soar.rules.compile import compile_rules
from tests.unit.rules.conftest import RULES, field_types

ERRORS = RULES / "errors"


def _only_error(name: str) -> RuleError:
    result = compile_rules([ERRORS / name], field_types=field_types)
    assert result.rules == []
    assert len(result.errors) == 1, [str(e) for e in result.errors]
    return result.errors[0]


@pytest.mark.parametrize(
    ("name", "rule_id", "line", "field", "words"),
    [
        ("fieldref.yml", "0b7c1f5e-2222-4000-8000-000000000001", 14, "source.user.name", "fieldref"),
        ("expand.yml", "0b7c1f5e-2222-4000-8000-000000000002", 16, "url.domain", "%trusted_domains%"),
        ("lookbehind.yml", "0b7c1f5e-2222-4000-8000-000000000003", 14, "url.path", "cannot be expressed"),
        ("timestamp.yml", "0b7c1f5e-2222-4000-8000-000000000004", 14, "@timestamp", "timestamp part"),
        ("wildcard_number.yml", "0b7c1f5e-2222-4000-8000-000000000008", 16, None, "wildcards"),
        ("unknown_logsource.yml", "0b7c1f5e-2222-4000-8000-000000000005", 9, None, "no soar source"),
    ],
)
def test_unsupported_construct_is_a_rule_error(
    name: str, rule_id: str, line: int, field: str | None, words: str
) -> None:
    error = _only_error(name)
    assert error.rule_id == rule_id
    assert error.file is not None
    assert error.file.endswith(name)
    assert error.line == line
    if field is not None:
        assert error.field == field
    assert words in str(error)
    assert rule_id in str(error)


def test_bad_yaml_is_reported_with_its_line() -> None:
    error = _only_error("bad_yaml.yml")
    assert error.line == 6
    assert "invalid YAML" in error.reason


def test_bad_files_do_not_stop_the_good_ones() -> None:
    result = compile_rules([RULES], field_types=field_types)
    failed = {e.file.rsplit("/", 1)[-1] for e in result.errors if e.file}
    assert failed == {
        "fieldref.yml",
        "expand.yml",
        "lookbehind.yml",
        "timestamp.yml",
        "wildcard_number.yml",
        "unknown_logsource.yml",
        "bad_yaml.yml",
    }
    assert len(result.rules) == 13  # unknown_field.yml compiles: validation reports it
    assert len(result.correlations) == 3


def test_regex_multiline_with_anchors_is_refused(tmp_path: Path) -> None:
    rule = ERRORS.parent / "regex.yml"
    text = rule.read_text("utf-8").replace("url.query|re: '^id", "url.query|re|m: '^id")
    path = tmp_path / "m.yml"
    path.write_text(text, "utf-8")
    result = compile_rules([path], field_types=field_types)
    assert len(result.errors) == 1
    assert "multi-line" in str(result.errors[0])
    assert result.errors[0].field == "url.query"
