"""The rules a sweep runs: compiled rules and correlations grouped by the indices they search, with their options.

A rule overrides the engine's defaults with a namespaced custom attribute in its Sigma file::

    soar:
      interval: 15m
      lookback: 2h
      time_field: event.ingested
      max_alerts: 200
      threshold: {field: [source.ip], count: 20, timespan: 10m}   # or new_terms: / flatline:

pySigma keeps unknown top-level keys as custom attributes, so the rule stays valid Sigma everywhere else.

A correlation runs in the group of its referenced rules; one whose rules come from several sources runs in
a group of its own, named after them (``envoy+keycloak``). As Sigma says (and pySigma does), a rule
referenced by a correlation with ``generate: false`` (the default) writes no alerts of its own: it is a
part of the correlation. ``generate: true`` on the correlation keeps its rules alerting too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from soar.detect.exception_files import exceptions_in_force
from soar.detect.exceptions import ExceptionsInForce
from soar.detect.models import DetectCorrelation, DetectRule
from soar.detect.settings import RuleOptions
from soar.errors import RuleError
from soar.rules.fieldmaps import map_field
from soar.rules.models import CompiledCorrelation, CompiledRule, CompileResult
from soar.telemetry.sources import Source
from soar.telemetry.templates import field_types

ATTRIBUTE = "soar"
SweepRule = CompiledRule | CompiledCorrelation
# Mapping types a terms aggregation cannot group on.
_NOT_AGGREGATABLE = frozenset({"text", "match_only_text", "object", "nested", "flattened", "geo_point"})


def group_id(rule: CompiledRule) -> str:
    """The rule group of a rule: rules of one source search the same indices and are batched together."""
    return rule.source.value


def correlation_group(correlation: CompiledCorrelation) -> str:
    """The group of a correlation: its rules' group, or ``a+b`` when they come from several."""
    return "+".join(sorted({group_id(r) for r in correlation.rules}))


def group_rules(rules: Iterable[CompiledRule]) -> dict[str, list[CompiledRule]]:
    """Rules by group id, groups and rules in a stable order (group id, then rule id)."""
    groups: dict[str, list[CompiledRule]] = {}
    for rule in sorted(rules, key=lambda r: (group_id(r), r.rule_id)):
        groups.setdefault(group_id(rule), []).append(rule)
    return groups


def parts_only(correlations: Iterable[CompiledCorrelation]) -> set[str]:
    """Rule ids that write no alerts of their own: referenced by a correlation with ``generate: false``."""
    return {rule.rule_id for c in correlations if not c.generate for rule in c.rules}


def sweep_groups(compiled: CompileResult) -> dict[str, list[SweepRule]]:
    """What each group's sweep runs: its alerting rules, then its correlations, each sorted by id."""
    quiet = parts_only(compiled.correlations)
    groups: dict[str, list[SweepRule]] = {}
    for group, rules in group_rules(r for r in compiled.rules if r.rule_id not in quiet).items():
        groups[group] = list(rules)
    for correlation in sorted(compiled.correlations, key=lambda c: c.rule_id):
        groups.setdefault(correlation_group(correlation), []).append(correlation)
    return dict(sorted(groups.items()))


def _documents(path: str, cache: dict[str, list[Any]]) -> list[Any]:
    if path not in cache:
        try:
            text = Path(path).read_text("utf-8")
            cache[path] = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
        except (OSError, yaml.YAMLError) as exc:
            raise RuleError(f"cannot read the rule's sweep options: {exc}", file=path) from None
    return cache[path]


def custom_options(rule: SweepRule, cache: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    """The ``soar:`` attribute of a rule's (or correlation's) Sigma document (empty when it has none).

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


def _check_fields(rule: SweepRule, source: Source, fields: Iterable[str], where: str) -> None:
    """Every field exists in the source's mappings and can be grouped on."""
    types = field_types(source)
    for name in fields:
        kind = types.get(map_field(source, name))
        if kind is None:
            reason = f"{name} is not a field of {source.value} events"
        elif kind in _NOT_AGGREGATABLE:
            reason = f"{name} is a {kind} field: values of it cannot be grouped on"
        else:
            continue
        raise RuleError(reason, file=rule.path, field=where, rule_id=rule.rule_id)


def _check_kind(rule: SweepRule, options: RuleOptions) -> None:
    if isinstance(rule, CompiledCorrelation):
        if options.kind != "rule":
            reason = f"{options.kind} applies to detection rules, not to correlations"
            raise RuleError(reason, file=rule.path, field=f"{ATTRIBUTE}.{options.kind}", rule_id=rule.rule_id)
        for part in rule.rules:
            _check_fields(
                rule, part.source, rule.group_by_fields.get(part.rule_id, []), "correlation.group-by"
            )
        return
    if options.threshold is not None:
        _check_fields(rule, rule.source, options.threshold.field, f"{ATTRIBUTE}.threshold.field")
    if options.new_terms is not None:
        _check_fields(rule, rule.source, options.new_terms.fields, f"{ATTRIBUTE}.new_terms.fields")


def detect_rule(
    rule: SweepRule, defaults: RuleOptions, cache: dict[str, list[Any]] | None = None
) -> DetectRule | DetectCorrelation:
    """A rule or correlation with its sweep options (defaults overridden by its ``soar:`` attribute).

    Raises:
        RuleError: the ``soar:`` attribute is invalid; names file, rule id and key.
    """
    custom = custom_options(rule, cache)
    options = defaults.override(custom, file=rule.path, rule_id=rule.rule_id) if custom else defaults
    _check_kind(rule, options)
    if isinstance(rule, CompiledCorrelation):
        return DetectCorrelation(correlation=rule, options=options)
    return DetectRule(rule=rule, options=options)


def detect_rules(rules: Iterable[CompiledRule], defaults: RuleOptions) -> list[DetectRule]:
    """Each rule with its sweep options (defaults overridden by its ``soar:`` attribute).

    Raises:
        RuleError: a rule's ``soar:`` attribute is invalid; names file, rule id and key.
    """
    cache: dict[str, list[Any]] = {}
    out = []
    for rule in rules:
        detected = detect_rule(rule, defaults, cache)
        assert isinstance(detected, DetectRule)  # a compiled rule becomes a DetectRule
        out.append(detected)
    return out


def detect_items(
    rules: Iterable[SweepRule], defaults: RuleOptions
) -> tuple[list[DetectRule | DetectCorrelation], list[RuleError]]:
    """Like :func:`detect_rules` for rules and correlations, but a bad one is skipped and reported."""
    cache: dict[str, list[Any]] = {}
    out: list[DetectRule | DetectCorrelation] = []
    errors: list[RuleError] = []
    for rule in rules:
        try:
            out.append(detect_rule(rule, defaults, cache))
        except RuleError as exc:
            errors.append(exc)
    return out, errors


def with_exceptions(
    items: list[DetectRule | DetectCorrelation], path: str | None, today: date
) -> tuple[list[DetectRule | DetectCorrelation], ExceptionsInForce]:
    """Attach the exceptions in force today: to each rule, and to each referenced rule of a correlation."""
    flat: list[DetectRule] = []
    for item in items:
        if isinstance(item, DetectRule):
            flat.append(item)
        else:
            flat += [DetectRule(rule=r, options=item.options) for r in item.correlation.rules]
    applied, in_force = exceptions_in_force(flat, path, today)
    done = iter(applied)
    out: list[DetectRule | DetectCorrelation] = []
    for item in items:
        if isinstance(item, DetectRule):
            out.append(next(done))
            continue
        parts = [next(done) for _ in item.correlation.rules]
        found = {p.rule.rule_id: p.exceptions for p in parts if p.exceptions is not None}
        out.append(item.model_copy(update={"part_exceptions": found}))
    return out, in_force
