"""Loading: folders recursively, every error collected with file and line, one bad file never stops others."""

from __future__ import annotations

from pathlib import Path

from soar.rules.loader import load_rules, rule_files
from tests.unit.rules.conftest import RULES

GOOD = (RULES / "regex.yml").read_text("utf-8")


def test_folders_are_searched_recursively_for_yml_and_yaml(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "one.yaml").write_text(GOOD, "utf-8")
    (tmp_path / "two.yml").write_text(GOOD.replace("0b7c1f5e-1111", "0b7c1f5e-9999"), "utf-8")
    (tmp_path / "notes.txt").write_text("not a rule", "utf-8")
    assert [p.name for p in rule_files([tmp_path])] == ["one.yaml", "two.yml"]
    result = load_rules([tmp_path])
    assert result.errors == []
    assert [r.path.name for r in result.rules] == ["one.yaml", "two.yml"]
    assert result.rules[0].rule_id == "0b7c1f5e-1111-4000-8000-000000000003"


def test_bad_yaml_among_good_files(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(GOOD, "utf-8")
    (tmp_path / "b.yml").write_text("title: x\ndetection: [unclosed\n", "utf-8")
    (tmp_path / "c.yml").write_text("- just\n- a list\n", "utf-8")
    (tmp_path / "d.yml").write_text(GOOD.replace("0b7c1f5e-1111", "0b7c1f5e-8888"), "utf-8")
    result = load_rules([tmp_path])
    assert [r.path.name for r in result.rules] == ["a.yml", "d.yml"]
    assert [(Path(e.file or "").name, e.line) for e in result.errors] == [("b.yml", 3), ("c.yml", None)]


def test_sigma_errors_carry_rule_id_and_line(tmp_path: Path) -> None:
    text = GOOD.replace("level: high", "level: severe").replace("url.path|re:", "url.path|nosuch:")
    (tmp_path / "r.yml").write_text(text, "utf-8")
    result = load_rules([tmp_path])
    assert result.rules == []
    by_reason = {e.reason.split(": ", 1)[1]: e for e in result.errors}
    assert len(by_reason) == 2
    for error in result.errors:
        assert error.rule_id == "0b7c1f5e-1111-4000-8000-000000000003"
    level = next(e for e in result.errors if "level" in e.reason.lower())
    assert level.line == 24
    modifier = next(e for e in result.errors if "nosuch" in e.reason)
    assert modifier.line == 14


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    result = load_rules([tmp_path / "absent.yml"])
    assert len(result.errors) == 1
    assert "cannot read" in str(result.errors[0])


def test_multi_document_file_with_correlation() -> None:
    result = load_rules([RULES / "correlations.yml"])
    assert result.errors == []
    assert [r.document for r in result.rules] == [0, 1, 2, 3, 4]
