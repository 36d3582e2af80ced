"""The pySigma backend that emits Elasticsearch Query DSL (dicts) with exact Sigma semantics.

Boolean structure: ``and`` -> ``bool.filter`` (scoring is irrelevant), ``or`` / ``1 of`` ->
``bool.should`` with ``minimum_should_match: 1``, ``not`` -> ``bool.must_not``; pySigma's condition
parser already applied Sigma's precedence (not > and > or) and parentheses. Leaves are built by
:mod:`soar.rules.dsl` from the target field's mapping type, and every leaf carries ``_name``
``<selection>/<field>`` so a hit's ``matched_queries`` say which selection matched.

Field-less (keyword) values: a ``bool.should`` of ``match_phrase`` on ``message`` (when the value has
no inner wildcard) and a case-insensitive contains ``wildcard`` on the source's
:data:`~soar.rules.fieldmaps.KEYWORD_SEARCH_FIELDS`; a keyword regex searches those keyword fields only.

Refused with :class:`UnsupportedConstruct` (the compiler turns it into a ``RuleError``): field
references (``|fieldref``), placeholders without values (``|expand``), query expressions,
timestamp parts (``|minute`` ...), regex constructs Lucene lacks, wildcards on numeric/ip/date fields,
comparisons on non-numeric fields.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionIdentifier
from sigma.conversion.base import Backend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule
from sigma.types import Placeholder, SigmaString, SpecialChars

from soar.rules import dsl
from soar.rules.dsl import KEYWORD_TYPES, NUMERIC_TYPES, TEXT_TYPES, Query
from soar.rules.fieldmaps import KEYWORD_SEARCH_FIELDS
from soar.rules.pipelines import STATE_INDEX, STATE_SOURCE, describe_logsource, soar_pipeline
from soar.rules.regex import RegexUnsupported, to_lucene
from soar.telemetry.sources import Source
from soar.telemetry.templates import field_types as template_field_types

BACKEND_VERSION = "1"  # bump when the emitted queries change: part of the compile cache key
FieldTypes = Callable[[Source], Mapping[str, str]]
_RANGE_OPS = {"LT": "lt", "LTE": "lte", "GT": "gt", "GTE": "gte"}


class UnsupportedConstruct(SigmaFeatureNotSupportedByBackendError):
    """A Sigma construct that Query DSL cannot express; ``field`` names the field when known."""

    def __init__(self, message: str, field: str | None = None, selection: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.selection = selection


@dataclass(frozen=True)
class RuleQuery:
    """A rule's query and where it runs."""

    query: Query
    source: Source
    index: str


class QueryDslBackend(Backend):
    """Converts Sigma rules to Query DSL using the mapping types of each source's fields."""

    name: ClassVar[str] = "soar Query DSL"
    formats: ClassVar[dict[str, str]] = {"default": "Elasticsearch Query DSL (dict)"}

    def __init__(self, field_types: FieldTypes = template_field_types) -> None:
        super().__init__(processing_pipeline=soar_pipeline())
        self._field_types = field_types
        self._types_cache: dict[Source, Mapping[str, str]] = {}
        self.init_processing_pipeline()

    def rule_query(self, rule: SigmaRule) -> RuleQuery:
        """Apply the pipeline to a (fresh) rule and convert all its conditions into one query.

        Raises:
            UnsupportedConstruct: The logsource maps to no source or a construct cannot be expressed.
        """
        pipeline = self.last_processing_pipeline
        pipeline.apply(rule)
        source_name = pipeline.state.get(STATE_SOURCE)
        if source_name is None:
            raise UnsupportedConstruct(
                f"logsource {describe_logsource(rule.logsource)} maps to no soar source"
            )
        state = ConversionState(processing_state=dict(pipeline.state))
        queries = [
            q
            for condition in rule.detection.parsed_condition
            if (q := self.convert_condition(condition.parsed, state)) is not None
        ]
        if not queries:
            raise UnsupportedConstruct("the detection is empty after the pipeline")
        return RuleQuery(_or(queries), Source(source_name), str(pipeline.state[STATE_INDEX]))

    # -- fields ---------------------------------------------------------------------------

    def _types(self, state: ConversionState) -> tuple[Source, Mapping[str, str]]:
        source = Source(state.processing_state[STATE_SOURCE])
        if source not in self._types_cache:
            self._types_cache[source] = self._field_types(source)
        return source, self._types_cache[source]

    def _field(self, cond: Any, state: ConversionState) -> tuple[str, str, Mapping[str, str]]:
        _, types = self._types(state)
        field = str(cond.field)
        return field, dsl.field_type(types, field) or dsl.UNMAPPED, types

    # -- boolean structure ----------------------------------------------------------------

    def convert_condition_and(self, cond: Any, state: ConversionState) -> Query | None:
        """``and``: every argument in ``bool.filter``."""
        parts = [q for arg in cond.args if (q := self.convert_condition(arg, state)) is not None]
        return _and(parts) if parts else None

    def convert_condition_or(self, cond: Any, state: ConversionState) -> Query | None:
        """``or``: ``bool.should`` with ``minimum_should_match: 1``."""
        parts = [q for arg in cond.args if (q := self.convert_condition(arg, state)) is not None]
        return _or(parts) if parts else None

    def convert_condition_not(self, cond: Any, state: ConversionState) -> Query | None:
        """``not``: ``bool.must_not``."""
        inner = self.convert_condition(cond.args[0], state)
        return None if inner is None else {"bool": {"must_not": [inner]}}

    # -- field = value --------------------------------------------------------------------

    def convert_condition_field_eq_val_str(self, cond: Any, state: ConversionState) -> Query:
        """A string (with wildcards) on a field, case-insensitive."""
        return self._string(cond, state, cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(self, cond: Any, state: ConversionState) -> Query:
        """A ``|cased`` string on a field."""
        return self._string(cond, state, cased=True)

    def _string(self, cond: Any, state: ConversionState, cased: bool) -> Query:
        value: SigmaString = cond.value
        field, ftype, types = self._field(cond, state)
        selection = _name(cond, field).rsplit("/", 1)[0]
        if value.contains_placeholder():
            raise UnsupportedConstruct(_placeholder_reason(value), field, selection)
        try:
            if ftype in TEXT_TYPES and f"{field}.keyword" in types:
                query = dsl.keyword_string(f"{field}.keyword", value, cased)
            elif ftype in TEXT_TYPES:
                query = dsl.text_string(field, value)
            elif ftype in KEYWORD_TYPES:
                query = dsl.keyword_string(field, value, cased)
            else:
                query = dsl.scalar_string(field, ftype, value)
        except dsl.Unsupported as exc:
            raise UnsupportedConstruct(str(exc), field, selection) from exc
        return dsl.named(query, _name(cond, field))

    def convert_condition_field_eq_val_num(self, cond: Any, state: ConversionState) -> Query:
        """A number on a field."""
        field, ftype, _ = self._field(cond, state)
        return dsl.named(dsl.number(field, ftype, cond.value.number), _name(cond, field))

    def convert_condition_field_eq_val_bool(self, cond: Any, state: ConversionState) -> Query:
        """A boolean on a field."""
        field, ftype, _ = self._field(cond, state)
        return dsl.named(dsl.boolean(field, ftype, bool(cond.value.boolean)), _name(cond, field))

    def convert_condition_field_eq_val_re(self, cond: Any, state: ConversionState) -> Query:
        """``|re``: a Lucene ``regexp`` on a keyword-like field (or a text field's ``.keyword``)."""
        field, ftype, types = self._field(cond, state)
        if ftype in TEXT_TYPES and f"{field}.keyword" in types:
            field, ftype = f"{field}.keyword", "keyword"
        if ftype not in KEYWORD_TYPES or ftype == "flattened":  # ES refuses regexp on keyed flattened
            raise UnsupportedConstruct(f"a regular expression cannot be matched on {ftype} field", field)
        return dsl.named(_regexp(field, cond.value), _name(cond, field))

    def convert_condition_field_eq_val_cidr(self, cond: Any, state: ConversionState) -> Query:
        """``|cidr``: a CIDR ``term`` on ip fields, address prefixes on keyword fields."""
        field, ftype, _ = self._field(cond, state)
        name = _name(cond, field)
        if ftype == "ip":
            return dsl.named({"term": {field: {"value": str(cond.value.network)}}}, name)
        if ftype in KEYWORD_TYPES:
            prefixes = [dsl.keyword_string(field, SigmaString(p), False) for p in cond.value.expand("*")]
            return _or([dsl.named(q, name) for q in prefixes])
        raise UnsupportedConstruct(f"a CIDR cannot be matched on {ftype} field", field)

    def convert_condition_field_compare_op_val(self, cond: Any, state: ConversionState) -> Query:
        """``|gt`` ``|gte`` ``|lt`` ``|lte``: a ``range`` on numeric or date fields."""
        field, ftype, _ = self._field(cond, state)
        if ftype not in NUMERIC_TYPES and ftype != "date":
            raise UnsupportedConstruct(f"a numeric comparison cannot be made on {ftype} field", field)
        op = _RANGE_OPS[cond.value.op.name]
        return dsl.named({"range": {field: {op: cond.value.number.number}}}, _name(cond, field))

    def convert_condition_field_eq_expansion(self, cond: Any, state: ConversionState) -> Query | None:
        """Expanded values (``|base64offset``, ``|windash``): any of them, named like their selection."""
        children = [ConditionFieldEqualsValueExpression(cond.field, v) for v in cond.value.values]
        for child in children:
            child.parent = cond  # keeps the selection name reachable for ``_name``
        parts = [q for child in children if (q := self.convert_condition(child, state)) is not None]
        return _or(parts) if parts else None

    def convert_condition_field_eq_val_null(self, cond: Any, state: ConversionState) -> Query:
        """``null``: the field is absent."""
        field = str(cond.field)
        return {"bool": {"must_not": [{"exists": {"field": field}}], "_name": _name(cond, field)}}

    def convert_condition_field_eq_val_exists(self, cond: Any, state: ConversionState) -> Query:
        """``|exists: true`` / ``false``."""
        field = str(cond.field)
        if bool(cond.value):
            return {"exists": {"field": field, "_name": _name(cond, field)}}
        return self.convert_condition_field_eq_val_null(cond, state)

    def convert_condition_field_exists(self, cond: Any, state: ConversionState) -> Query:
        """Field exists (reached only through the base class)."""
        return self.convert_condition_field_eq_val_exists(cond, state)

    def convert_condition_field_not_exists(self, cond: Any, state: ConversionState) -> Query:
        """Field does not exist (reached only through the base class)."""
        return self.convert_condition_field_eq_val_null(cond, state)

    def convert_condition_field_eq_field(self, cond: Any, state: ConversionState) -> Query:
        """``|fieldref`` compares two fields of one document: not expressible without scripts."""
        raise UnsupportedConstruct("field references (|fieldref) need scripts", str(cond.field))

    def convert_condition_field_eq_query_expr(self, cond: Any, state: ConversionState) -> Query:
        """Query expressions are backend-specific text: refused."""
        raise UnsupportedConstruct("query expressions are not supported", str(cond.field))

    def convert_condition_field_eq_val_timestamp_part(self, cond: Any, state: ConversionState) -> Query:
        """Timestamp parts (``|minute``, ``|hour`` ...) need scripts: refused."""
        raise UnsupportedConstruct("timestamp part modifiers need scripts", str(cond.field))

    def convert_condition_as_in_expression(self, cond: Any, state: ConversionState) -> Query:
        """Never chosen: ``convert_or_as_in`` is off, each value is its own leaf."""
        return self.convert_condition_or(cond, state) or {"match_none": {}}

    def _refuse_correlation(self, rule: Any, *args: Any, **kwargs: Any) -> Any:
        """Correlations are compiled by :mod:`soar.rules.compile` into ``CompiledCorrelation``."""
        raise UnsupportedConstruct("correlation rules are compiled by soar.rules.compile")

    convert_correlation_event_count_rule = _refuse_correlation
    convert_correlation_value_count_rule = _refuse_correlation
    convert_correlation_temporal_rule = _refuse_correlation
    convert_correlation_temporal_ordered_rule = _refuse_correlation
    convert_correlation_extended_temporal_rule = _refuse_correlation
    convert_correlation_extended_temporal_ordered_rule = _refuse_correlation
    convert_correlation_value_sum_rule = _refuse_correlation
    convert_correlation_value_avg_rule = _refuse_correlation
    convert_correlation_value_percentile_rule = _refuse_correlation
    convert_correlation_value_median_rule = _refuse_correlation

    # -- keywords (no field) --------------------------------------------------------------

    def convert_condition_val_str(self, cond: Any, state: ConversionState) -> Query:
        """A field-less string: phrase on ``message`` and contains on the keyword search fields."""
        value: SigmaString = cond.value
        if value.contains_placeholder():
            raise UnsupportedConstruct(_placeholder_reason(value))
        source, types = self._types(state)
        name = _name(cond, "keywords")
        parts: list[Query] = []
        if "message" in types:
            # An inner wildcard cannot be a phrase: the keyword fields below still search for it.
            with contextlib.suppress(dsl.Unsupported):
                parts.append(dsl.named(dsl.text_string("message", value), name))
        contains = _contains(value)
        for field in KEYWORD_SEARCH_FIELDS[source]:
            parts.append(dsl.named(dsl.keyword_string(field, contains, False), name))
        return _or(parts)

    def convert_condition_val_num(self, cond: Any, state: ConversionState) -> Query:
        """A field-less number: searched as its text."""
        cond.value = SigmaString(str(cond.value.number))
        return self.convert_condition_val_str(cond, state)

    def convert_condition_val_re(self, cond: Any, state: ConversionState) -> Query:
        """A field-less regular expression on the keyword search fields."""
        source, _ = self._types(state)
        name = _name(cond, "keywords")
        return _or([dsl.named(_regexp(f, cond.value), name) for f in KEYWORD_SEARCH_FIELDS[source]])

    def convert_condition_query_expr(self, cond: Any, state: ConversionState) -> Query:
        """Query expressions are backend-specific text: refused."""
        raise UnsupportedConstruct("query expressions are not supported")


def _name(cond: Any, field: str) -> str:
    for item in cond.parent_chain():
        if isinstance(item, ConditionIdentifier):
            return f"{item.identifier}/{field}"
    return f"condition/{field}"


def _placeholder_reason(value: SigmaString) -> str:
    names = ", ".join(f"%{p.name}%" for p in value.s if isinstance(p, Placeholder))
    return f"placeholder {names} has no value (|expand needs a pipeline that fills it)"


def _regexp(field: str, value: Any) -> Query:
    flags = frozenset(value.sigma_to_re_flag[f] for f in value.flags)
    try:
        lucene = to_lucene(str(value.regexp), flags)
    except RegexUnsupported as exc:
        raise UnsupportedConstruct(f"regular expression {str(value.regexp)!r}: {exc}", field) from exc
    params: dict[str, Any] = {"value": lucene.pattern}
    if lucene.case_insensitive:
        params["case_insensitive"] = True
    return {"regexp": {field: params}}


def _contains(value: SigmaString) -> SigmaString:
    out = value
    if not out.startswith(SpecialChars.WILDCARD_MULTI):
        out = SpecialChars.WILDCARD_MULTI + out
    if not out.endswith(SpecialChars.WILDCARD_MULTI):
        out = out + SpecialChars.WILDCARD_MULTI
    return out


def _and(parts: list[Query]) -> Query:
    if len(parts) == 1:
        return parts[0]
    flat: list[Query] = []
    for part in parts:
        inner = part.get("bool") or {}
        flat.extend(inner["filter"] if inner.keys() == {"filter"} else [part])
    return {"bool": {"filter": flat}}


def _or(parts: list[Query]) -> Query:
    if len(parts) == 1:
        return parts[0]
    flat: list[Query] = []
    for part in parts:
        inner = part.get("bool") or {}
        is_or = inner.keys() == {"should", "minimum_should_match"}
        flat.extend(inner["should"] if is_or else [part])
    return {"bool": {"should": flat, "minimum_should_match": 1}}
