"""Validation: unknown fields with a suggestion, logsource, ATT&CK tags, metadata, pySigma validators."""

from __future__ import annotations

from pathlib import Path

import pytest

from soar.rules.loader import load_rules
from soar.rules.validation import attack_tag_problem, validate_rules
from tests.unit.rules.conftest import RULES, field_types


def test_unknown_field_names_file_line_rule_and_closest_field() -> None:
    loaded = load_rules([RULES / "errors" / "unknown_field.yml"])
    errors = [e for e in validate_rules(loaded.rules, field_types) if e.field == "url.pth"]
    assert len(errors) == 1
    error = errors[0]
    assert error.file is not None
    assert error.file.endswith("unknown_field.yml")
    assert error.line == 18
    assert error.rule_id == "0b7c1f5e-2222-4000-8000-000000000007"
    assert "did you mean 'url.path'?" in str(error)


def test_unknown_mapped_field_is_shown_with_its_sigmahq_name(tmp_path: Path) -> None:
    text = (RULES / "okta_sigmahq.yml").read_text("utf-8").replace("outcome.result", "outcome.reslt")
    (tmp_path / "r.yml").write_text(text, "utf-8")
    loaded = load_rules([tmp_path])
    errors = [e for e in validate_rules(loaded.rules, field_types) if e.field]
    assert [e.field for e in errors] == ["outcome.reslt"]
    assert "okta.outcome.reslt (from outcome.reslt)" in str(errors[0])
    assert "did you mean 'okta.outcome.result'?" in str(errors[0])


def test_attack_tags_are_checked() -> None:
    loaded = load_rules([RULES / "errors" / "unknown_field.yml"])
    reasons = [e.reason for e in validate_rules(loaded.rules, field_types, pysigma=False)]
    assert any("attack.T1190" in r for r in reasons)
    assert any("must use hyphens (attack.initial-access)" in r for r in reasons)
    assert any("attack.t119" in r and "malformed" in r for r in reasons)
    assert not any("'attack.t1190'" in r for r in reasons)


@pytest.mark.parametrize(
    ("tag", "ok"),
    [
        ("attack.t1078", True),
        ("attack.t1078.004", True),
        ("attack.g0016", True),
        ("attack.s0002", True),
        ("attack.credential-access", True),
        ("attack.command-and-control", True),
        ("attack.t1078.04", False),
        ("attack.credential_access", False),
        ("attack.made-up-tactic", False),
    ],
)
def test_attack_tag_forms(tag: str, ok: bool) -> None:
    assert (attack_tag_problem(tag) is None) is ok


def test_required_metadata_and_logsource(tmp_path: Path) -> None:
    (tmp_path / "bare.yml").write_text(
        "title: Bare\nlogsource:\n  product: windows\ndetection:\n  s:\n    a: b\n  condition: s\n",
        "utf-8",
    )
    loaded = load_rules([tmp_path])
    reasons = [e.reason for e in validate_rules(loaded.rules, field_types, pysigma=False)]
    for name in ("id", "level", "description", "author", "tags"):
        assert f"required metadata {name!r} is missing" in reasons
    assert any("maps to no soar source" in r for r in reasons)
    relaxed = validate_rules(loaded.rules, field_types, pysigma=False, require_metadata=False)
    assert [e.reason for e in relaxed] == ["logsource product=windows maps to no soar source"]
    assert relaxed[0].line == 2


def test_fixture_rules_pass_soar_checks_and_pysigma_validators_run_offline() -> None:
    loaded = load_rules(sorted(RULES.glob("*.yml")))
    assert loaded.errors == []
    errors = validate_rules(loaded.rules, field_types)
    # The fixtures use on purpose what pySigma's validators warn about; soar's own checks pass.
    issues = {e.reason.rsplit("[", 1)[-1].split(",")[0] for e in errors}
    assert issues == {
        "AllOfThemConditionIssue",
        "FilenameLengthIssue",
        "NumberAsStringIssue",
        "EscapedWildcardIssue",
    }
