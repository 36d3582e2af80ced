"""The rules a sweep runs: compiled rules grouped by the indices they search, with their sweep options.

A rule overrides the engine's defaults with a namespaced custom attribute in its Sigma file::

    soar:
      interval: 15m
      lookback: 2h
      time_field: event.ingested
      max_alerts: 200

pySigma keeps unknown top-level keys as custom attributes, so the rule stays valid Sigma everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from soar.detect.models import DetectRule
from soar.detect.settings import RuleOptions
from soar.errors import RuleError
from soar.rules.models import CompiledRule

ATTRIBUTE = "soar"


def group_id(rule: CompiledRule) -> str:
    """The rule group of a rule: rules of one source search the same indices and are batched together."""
    return rule.source.value


def group_rules(rules: Iterable[CompiledRule]) -> dict[str, list[CompiledRule]]:
    """Rules by group id, groups and rules in a stable order (group id, then rule id)."""
    groups: dict[str, list[CompiledRule]] = {}
    for rule in sorted(rules, key=lambda r: (group_id(r), r.rule_id)):
        groups.setdefault(group_id(rule), []).append(rule)
    return groups


def _documents(path: str, cache: dict[str, list[Any]]) -> list[Any]:
    if path not in cache:
        try:
            text = Path(path).read_text("utf-8")
            cache[path] = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
        except (OSError, yaml.YAMLError) as exc:
            raise RuleError(f"cannot read the rule's sweep options: {exc}", file=path) from None
    return cache[path]


def custom_options(rule: CompiledRule, cache: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    """The ``soar:`` attribute of a rule's Sigma document (empty when it has none).

    Raises:
        RuleError: the file cannot be read or the attribute is not a mapping.
    """
    for document in _documents(rule.path, {} if cache is None else cache):
        if isinstance(document, dict) and str(document.get("id")) == rule.rule_id:
            custom = document.get(ATTRIBUTE) or {}
            if not isinstance(custom, dict):
                raise RuleError("must be a mapping", file=rule.path, field=ATTRIBUTE, rule_id=rule.rule_id)
            return custom
    return {}


def detect_rules(rules: Iterable[CompiledRule], defaults: RuleOptions) -> list[DetectRule]:
    """Each rule with its sweep options (defaults overridden by its ``soar:`` attribute).

    Raises:
        RuleError: a rule's ``soar:`` attribute is invalid; names file, rule id and key.
    """
    cache: dict[str, list[Any]] = {}
    out = []
    for rule in rules:
        custom = custom_options(rule, cache)
        options = defaults.override(custom, file=rule.path, rule_id=rule.rule_id) if custom else defaults
        out.append(DetectRule(rule=rule, options=options))
    return out
