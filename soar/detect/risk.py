"""Risk score and severity of an alert: the rule level's defaults, overridden from the matched event's fields.

A rule's ``soar:`` attribute may map event fields to a risk score or a severity (Kibana's
``risk_score_mapping`` and ``severity_mapping``)::

    soar:
      risk_score_mapping:
        - {field: payment.amount, operator: gte, value: 10000, risk_score: 90}
        - {field: user.roles, value: admin, risk_score: 80}
      severity_mapping:
        - {field: payment.amount, operator: gte, value: 50000, severity: critical}

Every mapping whose condition holds is a candidate; the highest risk score (severity) wins, the first
written on a tie. Without a match the rule's level decides: severity = level, risk score = Kibana's
default of the level. The two are independent, as in Kibana.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from soar.detect.settings import FieldMapping, RiskScoreMapping, RuleOptions, SeverityMapping

# Kibana's default risk scores per severity.
RISK_SCORES = {"informational": 0, "low": 21, "medium": 47, "high": 73, "critical": 99}
SEVERITY_ORDER = {name: rank for rank, name in enumerate(RISK_SCORES)}

M = TypeVar("M", bound=FieldMapping)


class Risk(BaseModel):
    """An alert's severity and risk score, and the mappings that set them (None: the rule's level did)."""

    severity: str
    risk_score: int
    severity_mapping: SeverityMapping | None = None
    risk_score_mapping: RiskScoreMapping | None = None


def field_values(document: dict[str, Any], path: str) -> list[Any]:
    """Every value at a dotted path of a document, nested (``{"user": {"name": ..}}``) or dotted keys alike.

    Lists along the path are flattened, so ``user.roles`` of ``{"user": {"roles": ["a", "b"]}}`` is
    ``["a", "b"]``; a missing path gives ``[]``.
    """
    return [v for v in _walk(document, path.split(".")) if v is not None]


def _walk(node: Any, parts: list[str]) -> Iterator[Any]:
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, parts)
        return
    if not parts:
        yield node
        return
    if not isinstance(node, dict):
        return
    # A document may spell a path with dots in one key ("user.name") or nest it; try every split.
    for i in range(1, len(parts) + 1):
        key = ".".join(parts[:i])
        if key in node:
            yield from _walk(node[key], parts[i:])


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _holds(mapping: FieldMapping, value: Any) -> bool:
    if mapping.operator == "eq":
        left, right = _number(value), _number(mapping.value)
        both_numbers = left is not None and right is not None and not isinstance(mapping.value, str)
        return left == right if both_numbers else value == mapping.value
    number, bound = _number(value), _number(mapping.value)
    if number is None or bound is None:
        return False
    return {
        "gt": number > bound,
        "gte": number >= bound,
        "lt": number < bound,
        "lte": number <= bound,
    }[mapping.operator]


def matches(mapping: FieldMapping, document: dict[str, Any]) -> bool:
    """True when any value of the mapping's field in the document meets its condition."""
    return any(_holds(mapping, value) for value in field_values(document, mapping.field))


def _best(mappings: Sequence[M], document: dict[str, Any], rank: Any) -> M | None:
    best: M | None = None
    for mapping in mappings:
        if matches(mapping, document) and (best is None or rank(mapping) > rank(best)):
            best = mapping
    return best


def assess(options: RuleOptions, level: str | None, document: dict[str, Any]) -> Risk:
    """The severity and risk score of an alert on ``document`` by a rule of ``level`` with these options."""
    default = level if level in RISK_SCORES else "medium"
    severity = _best(options.severity_mapping, document, lambda m: SEVERITY_ORDER[m.severity])
    risk = _best(options.risk_score_mapping, document, lambda m: m.risk_score)
    return Risk(
        severity=severity.severity if severity else default,
        risk_score=risk.risk_score if risk else RISK_SCORES[default],
        severity_mapping=severity,
        risk_score_mapping=risk,
    )
