"""OPA's free-form objects (``opa.input``, ``opa.result``, ``opa.labels``): kept as logged, within depth.

Elasticsearch rejects a ``flattened`` value nested deeper than its ``depth_limit``; a decision whose
objects nest deeper would be dead-lettered and hidden from detections, so the parts below the limit are
kept as their JSON text instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Objects and arrays nested deeper than this inside ``opa.input`` / ``opa.result`` / ``opa.labels`` are
# stored as their JSON text: Elasticsearch rejects a ``flattened`` value deeper than its ``depth_limit``
# (20), which would dead-letter the decision and hide it from detections.
_FLAT_DEPTH = 16
# What the nesting check keeps of a line (see may_nest_too_deep).
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'{}[]"\\')))  # deleted by ``bytes.translate``
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^][{}]+")
_PARENTHESES = bytes.maketrans(b"{[}]", b"(())")


def may_nest_too_deep(raw: str) -> bool:
    """Whether a free-form object of the line may nest deeper than ``_FLAT_DEPTH`` (cheap, never wrong).

    The objects sit one level inside the line, and a scalar or array one level inside its wrapper, so
    nothing is too deep unless the line's own brackets nest deeper than ``_FLAT_DEPTH``. Only brackets,
    quotes and backslashes are kept (as bytes: UTF-8 never puts those bytes inside another character);
    a string holding none of them is then ``""``, and when no quote is left no string held a bracket.
    """
    if raw.count("{") + raw.count("[") <= _FLAT_DEPTH:
        return False
    kept = raw.encode("utf-8", "surrogatepass").translate(None, _NOT_STRUCTURE)
    if b"\\" in kept:  # an escape: strings are found in the text itself (the line is valid JSON: it parsed)
        brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", raw)).encode()
    else:
        brackets = kept.replace(b'""', b"")
        if b'"' in brackets:  # a string holds a bracket: drop every string
            brackets = b"".join(kept.split(b'"')[::2])
    if brackets.count(b"{") + brackets.count(b"[") <= _FLAT_DEPTH:
        return False
    nested = brackets.translate(_PARENTHESES)
    for _ in range(_FLAT_DEPTH):  # each round drops the innermost pairs: a depth of d is gone in d rounds
        nested = nested.replace(b"()", b"")
        if not nested:
            return False
    return True


def free_form(value: Any, bound: bool) -> dict[str, Any]:
    """A free-form value as OPA logged it (``flattened``); a scalar or array becomes ``{"value": ...}``.

    A ``flattened`` field needs an object at its root. The value is the event's own parse, so bounding
    its depth in place changes nothing the caller still needs.
    """
    wrapped: dict[str, Any] = value if isinstance(value, dict) else {"value": value}
    if bound:
        _bound_depth(wrapped, 1)
    return wrapped


def _bound_depth(container: dict[str, Any] | list[Any], depth: int) -> None:
    """Replace, in place, each object or array nested deeper than ``_FLAT_DEPTH`` with its JSON text."""
    keys: list[Any] = list(container) if isinstance(container, dict) else list(range(len(container)))
    for key in keys:
        child = container[key]
        if not isinstance(child, dict | list):
            continue
        if depth >= _FLAT_DEPTH:
            container[key] = json.dumps(child, ensure_ascii=False, separators=(",", ":"))
        else:
            _bound_depth(child, depth + 1)
