"""Sigma correlation rules resolved against compiled rules into ``CompiledCorrelation`` models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

import yaml
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule

from soar.errors import RuleError
from soar.rules.fieldmaps import map_field
from soar.rules.loader import CONDITION_OPS, LoadedRule
from soar.rules.locate import key_line
from soar.rules.models import (
    CompiledCorrelation,
    CompiledRule,
    CorrelationBound,
    CorrelationCondition,
    CorrelationType,
    content_hash,
)

SUPPORTED_TYPES: frozenset[str] = frozenset(get_args(CorrelationType))


def compile_correlation(loaded: LoadedRule, rules: Mapping[str, CompiledRule]) -> CompiledCorrelation:
    """Resolve a correlation's rule references (by id or name) and map its fields to ECS.

    Args:
        loaded: The loaded correlation rule.
        rules: Compiled rules by rule id and by rule name.

    Returns:
        The correlation, ready for the detection engine.

    Raises:
        RuleError: Unsupported type or condition, or a reference to a rule that did not compile.
    """
    rule = loaded.rule
    assert isinstance(rule, SigmaCorrelationRule)
    kind = rule.type.name.lower()
    if kind not in SUPPORTED_TYPES:
        raise _error(loaded, f"correlation type {kind} is not supported", "correlation")
    references = [ref.reference for ref in rule.rules or []]
    missing = [ref for ref in references if ref not in rules]
    if missing or not references:
        reason = f"references rules that are unknown or did not compile: {', '.join(missing) or '(none)'}"
        raise _error(loaded, reason, "correlation")
    compiled = [rules[ref] for ref in references]
    group_by = list(rule.group_by or [])
    fields = {
        target.rule_id: [_field(rule, ref, target, name) for name in group_by]
        for ref, target in zip(references, compiled, strict=True)
    }
    condition = _condition(loaded, rule, compiled[0])
    version = rule.modified or rule.date
    meta = {
        "rule_id": loaded.rule_id or "",
        "title": rule.title,
        "level": rule.level.name.lower() if rule.level else None,
        "description": rule.description,
        "tags": [str(tag) for tag in rule.tags or []],
        "type": kind,
        "timespan": rule.timespan.spec,
        "timespan_seconds": rule.timespan.seconds,
        "group_by": group_by,
        "group_by_fields": fields,
        "condition": condition.model_dump() if condition else None,
        "generate": bool(rule.generate),
        "version": version.isoformat() if version else None,
    }
    if not loaded.rule_id:
        raise _error(loaded, "the correlation has no id", "title")
    digest = content_hash({**meta, "rules": [r.content_hash for r in compiled]})
    return CompiledCorrelation.model_validate(
        {**meta, "rules": compiled, "content_hash": digest, "path": str(loaded.path)}
    )


def _field(rule: SigmaCorrelationRule, reference: str, target: CompiledRule, name: str) -> str:
    alias = rule.aliases.aliases.get(name)
    if alias is not None:
        for ref, field in alias.mapping.items():
            if ref.reference == reference:
                return map_field(target.source, field)
    return map_field(target.source, name)


def _condition(
    loaded: LoadedRule, rule: SigmaCorrelationRule, first: CompiledRule
) -> CorrelationCondition | None:
    condition = rule.condition
    if condition is None:
        return None
    if not isinstance(condition, SigmaCorrelationCondition):
        raise _error(loaded, "extended correlation conditions are not supported", "correlation")
    fieldref = condition.fieldref
    if isinstance(fieldref, list):
        if len(fieldref) != 1:
            raise _error(loaded, "a correlation condition may name one field", "correlation")
        fieldref = fieldref[0]
    field = map_field(first.source, fieldref) if fieldref else None
    op = condition.op.name.lower()
    also = [b for b in _range_bounds(loaded) if b.op != op]
    return CorrelationCondition(op=op, count=condition.count, field=field, also=also)


def _range_bounds(loaded: LoadedRule) -> list[CorrelationBound]:
    """Every bound written in the condition (a range has two; pySigma was given the first only)."""
    documents: list[Any] = list(yaml.load_all(loaded.data, Loader=yaml.CSafeLoader))
    document = documents[loaded.document] if loaded.document < len(documents) else {}
    condition = (document.get("correlation") or {}).get("condition") if isinstance(document, dict) else None
    if not isinstance(condition, dict):
        return []
    bounds = []
    for op in (k for k in condition if k in CONDITION_OPS):
        try:
            bounds.append(CorrelationBound(op=op, count=int(condition[op])))
        except (TypeError, ValueError):
            raise _error(loaded, f"condition {op}: {condition[op]!r} is not a count", "condition") from None
    return bounds


def _error(loaded: LoadedRule, reason: str, key: str) -> RuleError:
    line = key_line(loaded.data, key, loaded.document)
    return RuleError(reason, file=str(loaded.path), line=line, rule_id=loaded.rule_id)
