"""Threshold, new terms and flatline options in a rule's ``soar:`` attribute: parsed, checked, errors located."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from soar.detect.models import DetectCorrelation, DetectRule
from soar.detect.ruleset import detect_items, detect_rule
from soar.detect.settings import RuleOptions
from soar.errors import RuleError
from soar.rules.compile import compile_rules

RULE = """title: Okta sign-in failed
id: 11111111-2222-4333-8444-555555555555
name: okta_failed
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
CORRELATION = """---
title: Many failures
id: 11111111-2222-4333-8444-666666666666
status: test
correlation:
  type: event_count
  rules: [okta_failed]
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 5}
level: high
"""


def _one(tmp_path: Path, soar: str) -> DetectRule | DetectCorrelation:
    (tmp_path / "rule.yml").write_text(RULE + soar, "utf-8")
    [rule] = compile_rules([tmp_path]).rules
    return detect_rule(rule, RuleOptions())


def test_threshold_takes_one_field_or_several(tmp_path: Path) -> None:
    rule = _one(tmp_path, "soar:\n  threshold: {field: source.ip, count: 20, timespan: 10m}\n")
    assert rule.options.threshold is not None
    assert rule.options.threshold.field == ["source.ip"]
    assert rule.options.threshold.timespan == timedelta(minutes=10)
    assert rule.options.kind == "threshold"
    both = _one(tmp_path, "soar:\n  threshold: {field: [source.ip, user.name], count: 2, timespan: 1h}\n")
    assert both.options.threshold is not None
    assert both.options.threshold.field == ["source.ip", "user.name"]


def test_new_terms_and_flatline_options(tmp_path: Path) -> None:
    new = _one(tmp_path, "soar:\n  new_terms: {fields: user.name, history: 7d}\n")
    assert new.options.new_terms is not None
    assert (new.options.new_terms.fields, new.options.new_terms.history) == (["user.name"], timedelta(days=7))
    flat = _one(tmp_path, "soar:\n  flatline: {timespan: 30m}\n")
    assert flat.options.kind == "flatline"


@pytest.mark.parametrize(
    ("soar", "field", "reason"),
    [
        (
            "threshold: {field: source.ip, count: 0, timespan: 10m}",
            "soar.threshold.count",
            "greater than or equal",
        ),
        ("threshold: {count: 3}", "soar.threshold.timespan", "Field required"),
        ("threshold: {count: 3, timespan: 10m, by: x}", "soar.threshold.by", "Extra inputs"),
        (
            "threshold: {field: no.such, count: 3, timespan: 1m}",
            "soar.threshold.field",
            "no.such is not a field",
        ),
        (
            "threshold: {field: message, count: 3, timespan: 1m}",
            "soar.threshold.field",
            "cannot be grouped on",
        ),
        ("new_terms: {fields: [], history: 1d}", "soar.new_terms.fields", "at least 1"),
        ("new_terms: {fields: [user.name], history: soon}", "soar.new_terms.history", "not a duration"),
        ("flatline: {timespan: 30s}", "soar.flatline.timespan", "at least 1m"),
        (
            "flatline: {timespan: 1h}\n  new_terms: {fields: [user.name], history: 1d}",
            "soar",
            "exclude one another",
        ),
        ("flatline: {timespan: 1h}\n  suppress: {by: [user.name], for: 1h}", "soar", "single-event rules"),
    ],
)
def test_bad_options_name_file_rule_and_field(tmp_path: Path, soar: str, field: str, reason: str) -> None:
    with pytest.raises(RuleError) as caught:
        _one(tmp_path, f"soar:\n  {soar}\n")
    assert f"rule.yml: {field}: rule 11111111-2222-4333-8444-555555555555" in str(caught.value)
    assert reason in str(caught.value)


def test_a_correlation_takes_sweep_options_but_no_kind(tmp_path: Path) -> None:
    (tmp_path / "rule.yml").write_text(RULE + CORRELATION + "soar:\n  interval: 15m\n", "utf-8")
    compiled = compile_rules([tmp_path])
    [item] = [detect_rule(c, RuleOptions()) for c in compiled.correlations]
    assert isinstance(item, DetectCorrelation)
    assert item.options.interval == timedelta(minutes=15)
    (tmp_path / "rule.yml").write_text(
        RULE + CORRELATION + "soar:\n  threshold: {count: 3, timespan: 1m}\n", "utf-8"
    )
    compiled = compile_rules([tmp_path])
    items, errors = detect_items([*compiled.rules, *compiled.correlations], RuleOptions())
    assert [i.rule_id for i in items] == ["11111111-2222-4333-8444-555555555555"]  # the rule still runs
    [error] = errors
    assert "soar.threshold: rule 11111111-2222-4333-8444-666666666666" in str(error)
    assert "applies to detection rules, not to correlations" in str(error)
