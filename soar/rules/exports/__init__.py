"""Exports of Sigma rules: soar's Query DSL, Lucene, ES|QL, EQL and Elastic Security (Kibana) rules."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from soar.errors import RuleError
from soar.rules.compile import compile_rules
from soar.rules.exports import elastic
from soar.rules.exports.kibana import kibana_rule
from soar.rules.loader import load_rules
from soar.rules.pipelines import resolve_source
from soar.telemetry.sources import SOURCES


class ExportFormat(StrEnum):
    """What ``soar rules convert --format`` writes."""

    DSL = "dsl"
    LUCENE = "lucene"
    ESQL = "esql"
    EQL = "eql"
    KIBANA = "kibana"


EXTENSIONS = {
    ExportFormat.DSL: ".json",
    ExportFormat.LUCENE: ".lucene",
    ExportFormat.ESQL: ".esql",
    ExportFormat.EQL: ".eql",
    ExportFormat.KIBANA: ".ndjson",
}


@dataclass(frozen=True)
class Exported:
    """One rule in the chosen format: the text of its file (one line for NDJSON)."""

    rule_id: str
    text: str


@dataclass
class ExportResult:
    """Every rule exported and one error per rule that could not be."""

    exported: list[Exported] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)


def export_rules(paths: Iterable[str | Path], fmt: ExportFormat) -> ExportResult:
    """Convert every rule under the paths to one format; a failing rule never stops the others.

    Args:
        paths: Rule files and folders.
        fmt: The target format.

    Returns:
        The exported rules in file order, and the errors.
    """
    if fmt is ExportFormat.DSL:
        return _dsl(paths)
    loaded = load_rules(paths)
    result = ExportResult(errors=list(loaded.errors))
    backend = "eql" if fmt is ExportFormat.KIBANA else fmt.value
    for item, converted in elastic.convert(backend, loaded.rules):
        if isinstance(converted, RuleError):
            result.errors.append(converted)
            continue
        rule_id = item.rule_id or item.path.stem
        if fmt is ExportFormat.KIBANA:
            doc = kibana_rule(item.rule, converted, _index(item.rule), item.path)
            converted = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        result.exported.append(Exported(rule_id, converted))
    return result


def _dsl(paths: Iterable[str | Path]) -> ExportResult:
    compiled = compile_rules(paths)
    result = ExportResult(errors=list(compiled.errors))
    for rule in compiled.rules:
        body = {"index": rule.index, "query": rule.query}
        result.exported.append(Exported(rule.rule_id, json.dumps(body, ensure_ascii=False, indent=2)))
    for correlation in compiled.correlations:
        body = correlation.model_dump(mode="json", exclude={"path"})
        result.exported.append(Exported(correlation.rule_id, json.dumps(body, ensure_ascii=False, indent=2)))
    return result


def _index(rule: SigmaRule | SigmaCorrelationRule) -> str:
    """The index pattern of a rule's source (a correlation's first referenced rule's)."""
    if isinstance(rule, SigmaCorrelationRule):
        first = rule.rules[0].rule if rule.rules else None
        return _index(first) if isinstance(first, SigmaRule | SigmaCorrelationRule) else "logs-*"
    source = resolve_source(rule.logsource)
    return SOURCES[source].index_pattern if source else "logs-*"
