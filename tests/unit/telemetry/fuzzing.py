"""Shared pieces of the normalisers' property tests: settings, JSON strategies, mutations, checks.

tests/conftest.py loads the "soar" hypothesis profile (no deadline, too_slow not a failure); FUZZ
only raises the number of examples.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from soar.errors import NormalisationError
from soar.telemetry.ecs import EcsDocument
from soar.telemetry.normalise import DeadLetter, Normalised

FUZZ = settings(max_examples=150)


def json_values(*, width: int, key_size: int, leaves: int, allow_nan: bool) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars, and lists and objects of at most ``width`` members, nested."""
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=allow_nan) | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=width)
            | st.dictionaries(st.text(max_size=key_size), inner, max_size=width)
        ),
        max_leaves=leaves,
    )


# Identity sources (Kubernetes, Okta, Keycloak): no NaN, up to 4 members, 12 leaves.
JSON_VALUES = json_values(width=4, key_size=12, leaves=12, allow_nan=False)
# Mesh and application sources (Envoy, OPA, app): NaN as well, up to 3 members, 8 leaves.
JSON_VALUES_WITH_NAN = json_values(width=3, key_size=8, leaves=8, allow_nan=True)

# Lines to feed normalise_lines: (good, junk) pairs, a good line or "#" + junk.
GOOD_OR_JUNK = st.lists(
    st.tuples(st.booleans(), st.text(alphabet="{}[]x: ", min_size=1, max_size=30)), max_size=8
)
# Any single lines of text (some blank).
ONE_LINERS = st.lists(st.text(max_size=60).filter(lambda s: "\n" not in s and "\r" not in s), max_size=8)


def paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path into nested objects (not into lists), parents before children."""
    if not isinstance(value, dict):
        return []
    out: list[tuple[str, ...]] = []
    for key, item in value.items():
        out.append((*prefix, key))
        out.extend(paths(item, (*prefix, key)))
    return out


def mutated(event: dict[str, Any], pick: int, replacement: Any, delete: bool) -> str:
    """``event`` as JSON with one field (the ``pick``-th path, wrapping) replaced or deleted."""
    changed = copy.deepcopy(event)
    every = paths(changed)
    path = every[pick % len(every)]
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return json.dumps(changed)


def assert_only_normalisation_errors(normalise: Callable[[str], dict[str, Any]], raw: str) -> None:
    """``normalise`` gives a valid ECS document or a NormalisationError with a reason, nothing else.

    Call the normaliser module itself, not normalise_record: that one turns any stray exception into
    a NormalisationError.
    """
    try:
        document = normalise(raw)
    except NormalisationError as exc:
        reason = exc.reason
    else:
        EcsDocument.model_validate(document)
        return
    assert reason


def assert_numbered(results: Sequence[Normalised | DeadLetter], plan: Sequence[tuple[bool, str]]) -> None:
    """One result a line of a GOOD_OR_JUNK plan, in order, numbered from 1; dead letters say why."""
    assert len(results) == len(plan)
    for number, (result, (good, _)) in enumerate(zip(results, plan, strict=True), start=1):
        assert result.line == number
        assert isinstance(result, Normalised) == good
        if isinstance(result, DeadLetter):
            assert result.error


def assert_non_blank_lines_numbered(results: Sequence[Normalised | DeadLetter], lines: Sequence[str]) -> None:
    """One result a non-blank line, with its line number; dead letters say why."""
    assert [r.line for r in results] == [n for n, line in enumerate(lines, start=1) if line.strip()]
    assert all(r.error for r in results if isinstance(r, DeadLetter))
