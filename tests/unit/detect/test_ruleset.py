from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from soar.detect.ruleset import detect_rules, group_rules
from soar.detect.settings import RuleOptions
from soar.errors import RuleError
from soar.rules.compile import compile_rules

RULE = """title: Okta sign-in failed
id: 11111111-2222-4333-8444-555555555555
status: test
logsource:
  product: okta
  service: okta
detection:
  selection:
    event.action: user.session.start
  condition: selection
level: medium
"""


def test_soar_attribute_overrides_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "rule.yml").write_text(
        RULE + "soar:\n  interval: 15m\n  time_field: event.ingested\n  max_alerts: 20\n", "utf-8"
    )
    compiled = compile_rules([tmp_path])
    assert compiled.errors == []
    [rule] = detect_rules(compiled.rules, RuleOptions())
    assert rule.options.interval == timedelta(minutes=15)
    assert rule.options.time_field == "event.ingested"
    assert rule.options.max_alerts == 20
    assert rule.options.overlap == RuleOptions().overlap
    assert list(group_rules(compiled.rules)) == ["okta"]


def test_bad_soar_attribute_names_file_rule_and_key(tmp_path: Path) -> None:
    (tmp_path / "rule.yml").write_text(RULE + "soar:\n  time_field: event.created\n", "utf-8")
    compiled = compile_rules([tmp_path])
    with pytest.raises(RuleError, match=r"rule\.yml: soar\.time_field: rule 11111111"):
        detect_rules(compiled.rules, RuleOptions())


def test_rule_without_attribute_keeps_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "rule.yml").write_text(RULE, "utf-8")
    [rule] = detect_rules(compile_rules([tmp_path]).rules, RuleOptions(interval="1m"))
    assert rule.options == RuleOptions(interval="1m")
