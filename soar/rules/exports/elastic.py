"""Lucene, ES|QL and EQL through pysigma-backend-elasticsearch, with soar's pipeline (routing, ECS names).

soar's pipeline maps field names to ECS and puts the source's index pattern in the processing state,
where the ES|QL backend reads it for its ``from`` clause. Rules whose logsource maps to no soar
source are refused, as in the Query DSL compiler. Lucene keeps pySigma's case-sensitive semantics on
keyword fields (DESIGN trap 1): it is an export for people who need it, not what soar executes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sigma.backends.elasticsearch.elasticsearch_eql import EqlBackend
from sigma.backends.elasticsearch.elasticsearch_esql import ESQLBackend
from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import SetStateTransformation
from sigma.rule import SigmaRule

from soar.errors import RuleError
from soar.rules.loader import LoadedRule
from soar.rules.locate import key_line
from soar.rules.pipelines import SourceCondition, describe_logsource, resolve_source, soar_pipeline
from soar.telemetry.sources import SOURCES, Source

BACKENDS: dict[str, Callable[..., Any]] = {"lucene": LuceneBackend, "esql": ESQLBackend, "eql": EqlBackend}


def export_pipeline() -> ProcessingPipeline:
    """The soar pipeline plus the ``index`` state the ES|QL backend uses for ``from``."""
    items = [
        ProcessingItem(
            identifier=f"soar_{source.value}_esql_index",
            transformation=SetStateTransformation("index", SOURCES[source].index_pattern),
            rule_conditions=[SourceCondition(source)],
        )
        for source in Source
    ]
    return soar_pipeline() + ProcessingPipeline(name="soar index state", priority=30, items=items)


def convert(fmt: str, loaded: Sequence[LoadedRule]) -> Iterator[tuple[LoadedRule, str | RuleError]]:
    """Convert freshly loaded rules to one query each (text) or a ``RuleError``.

    Args:
        fmt: ``lucene``, ``esql`` or ``eql``.
        loaded: Rules as loaded (the pipeline changes them in place).

    Yields:
        Each rule with its query or the error that stopped it.
    """
    backend = BACKENDS[fmt](processing_pipeline=export_pipeline())
    collection = SigmaCollection([item.rule for item in loaded], errors=[])
    with contextlib.suppress(SigmaError):  # a correlation naming an unknown rule fails on its own below
        collection.resolve_rule_references()
    for item in loaded:
        converted = _convert_one(backend, fmt, item)
        if converted is not None:  # None: a rule used only by correlations (pySigma emits nothing)
            yield item, converted


def _convert_one(backend: Any, fmt: str, item: LoadedRule) -> str | RuleError | None:
    rule = item.rule
    where: dict[str, Any] = {"file": str(item.path), "rule_id": item.rule_id}
    if isinstance(rule, SigmaRule) and resolve_source(rule.logsource) is None:
        reason = f"logsource {describe_logsource(rule.logsource)} maps to no soar source"
        return RuleError(reason, line=key_line(item.data, "logsource", item.document), **where)
    try:
        if isinstance(rule, SigmaCorrelationRule):
            queries = [str(q) for q in backend.convert_correlation_rule(rule)]
        else:
            queries = [str(q) for q in backend.convert_rule(rule)]
    except (SigmaError, NotImplementedError) as exc:
        kind = "correlation" if isinstance(rule, SigmaCorrelationRule) else "rule"
        reason = str(exc).split(" (while converting")[0]
        return RuleError(f"{fmt} cannot express this {kind}: {reason}", **where)
    if len(queries) == 1:
        return queries[0]
    if not queries:
        return None
    if fmt == "lucene" and queries:
        return " OR ".join(f"({q})" for q in queries)
    return RuleError(f"{fmt}: the rule has {len(queries)} conditions; one query is needed", **where)
