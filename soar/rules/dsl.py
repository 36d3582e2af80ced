r"""Query DSL leaves for one field, chosen by the field's mapping type (Sigma semantics on Elasticsearch).

keyword-like fields (``keyword``, ``wildcard``, ``constant_keyword``, keyed ``flattened`` sub-fields,
and unmapped fields, which the dynamic template makes ``keyword``): ``term`` for plain values,
``prefix`` for ``value*``, ``wildcard`` otherwise, all with ``case_insensitive: true`` unless the
value is ``|cased``; a literal ``*``/``?``/``\`` is escaped with a backslash. An empty string matches
an empty *or absent* value (normalisers drop empty strings). ``text``/``match_only_text`` fields use
their ``.keyword`` sub-field when mapped, else ``match_phrase`` (case-insensitive by analysis); a
leading/trailing wildcard there is a phrase match on the inner text (token-level), other wildcards are
refused. Numeric, ``ip``, ``boolean`` and ``date`` fields get ``term``/``range``; a value of the wrong
kind (``'ALLOW'`` on a ``long``) can never be equal, so it becomes ``match_none``. Sub-fields of a
``flattened`` field take ``term``/``prefix``/``wildcard``/``exists``; ``|re`` on them is refused
(Elasticsearch has no ``regexp`` on keyed flattened fields).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from sigma.types import SigmaString, SpecialChars

Query = dict[str, Any]

KEYWORD_TYPES = frozenset({"keyword", "wildcard", "constant_keyword", "flattened"})
TEXT_TYPES = frozenset({"text", "match_only_text"})
NUMERIC_TYPES = frozenset(
    {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}
)
UNMAPPED = "keyword"  # what the base template's dynamic template makes of an unknown string


class Unsupported(ValueError):
    """A value the target field's type cannot express in Query DSL."""


def field_type(types: Mapping[str, str], field: str) -> str | None:
    """The mapping type of a dotted field; sub-fields of a ``flattened`` field are ``flattened``."""
    found = types.get(field)
    if found is not None:
        return found
    parts = field.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        if types.get(".".join(parts[:cut])) == "flattened":
            return "flattened"
    return None


def named(query: Query, name: str) -> Query:
    """Attach ``_name`` to a leaf query (inside the field object where the query has one)."""
    ((kind, body),) = query.items()
    if kind in {"term", "prefix", "wildcard", "regexp", "range", "match_phrase"}:
        ((field, params),) = body.items()
        return {kind: {field: {**params, "_name": name}}}
    return {kind: {**body, "_name": name}}


def _ci(cased: bool) -> dict[str, bool]:
    return {} if cased else {"case_insensitive": True}


def keyword_string(field: str, value: SigmaString, cased: bool) -> Query:
    """Equality, prefix or wildcard match of a Sigma string on a keyword-like field."""
    parts = list(value.s)
    if not value.contains_special():
        plain = "".join(str(p) for p in parts)
        if plain == "":
            return empty_or_missing(field)
        return {"term": {field: {"value": plain, **_ci(cased)}}}
    if len(parts) == 2 and isinstance(parts[0], str) and parts[1] is SpecialChars.WILDCARD_MULTI:
        return {"prefix": {field: {"value": parts[0], **_ci(cased)}}}
    pattern = value.convert(escape_char="\\", wildcard_multi="*", wildcard_single="?", add_escaped="\\")
    return {"wildcard": {field: {"value": pattern, **_ci(cased)}}}


def empty_or_missing(field: str) -> Query:
    """An empty string value: the field is empty or absent."""
    return {
        "bool": {
            "should": [
                {"term": {field: {"value": ""}}},
                {"bool": {"must_not": [{"exists": {"field": field}}]}},
            ],
            "minimum_should_match": 1,
        }
    }


def text_string(field: str, value: SigmaString) -> Query:
    """A phrase match on an analysed field; only leading/trailing ``*`` wildcards are accepted."""
    parts = list(value.s)
    while parts and parts[0] is SpecialChars.WILDCARD_MULTI:
        parts.pop(0)
    while parts and parts[-1] is SpecialChars.WILDCARD_MULTI:
        parts.pop()
    if any(not isinstance(p, str) for p in parts):
        raise Unsupported(f"a wildcard inside the value on text field {field} cannot be expressed exactly")
    return {"match_phrase": {field: {"query": "".join(str(p) for p in parts)}}}


def scalar_string(field: str, ftype: str, value: SigmaString) -> Query:
    """A Sigma string compared with a numeric, ip, boolean or date field."""
    if value.contains_special():
        raise Unsupported(f"wildcards cannot be used on {ftype} field {field}")
    plain = "".join(str(p) for p in value.s)
    converted = _coerce(ftype, plain)
    if converted is None:
        return {"match_none": {}}
    return {"term": {field: {"value": converted}}}


def _coerce(ftype: str, plain: str) -> Any:
    try:
        if ftype in NUMERIC_TYPES:
            number = float(plain)
            return int(number) if number.is_integer() and "." not in plain else number
        if ftype == "ip":
            return str(ipaddress.ip_address(plain))
    except ValueError:
        return None
    if ftype == "boolean":
        return {"true": True, "false": False}.get(plain.lower())
    return plain


def number(field: str, ftype: str, value: int | float) -> Query:
    """Equality with a number: numeric term, or the number's text on string fields."""
    if ftype in NUMERIC_TYPES or ftype == "date":
        return {"term": {field: {"value": value}}}
    if ftype in TEXT_TYPES:
        return {"match_phrase": {field: {"query": str(value)}}}
    if ftype in {"ip", "boolean"}:
        return {"match_none": {}}
    return {"term": {field: {"value": str(value)}}}


def boolean(field: str, ftype: str, value: bool) -> Query:
    """Equality with a boolean; a keyword field holds ``true``/``false`` as text."""
    if ftype == "boolean":
        return {"term": {field: {"value": value}}}
    return {"term": {field: {"value": str(value).lower(), **_ci(False)}}}
