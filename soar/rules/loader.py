"""Load Sigma rules from files and folders, collecting every error with its file, line and rule id."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

from soar.errors import RuleError
from soar.rules.locate import error_line

RULE_SUFFIXES = (".yml", ".yaml")
NOT_RULES = "exceptions"  # a rules folder's exceptions/ holds rule exceptions (soar.detect.exceptions)
AnyRule = SigmaRule | SigmaCorrelationRule


@dataclass(frozen=True)
class LoadedRule:
    """A parsed rule, the file it came from, the file's bytes and its document index in the file."""

    rule: AnyRule
    path: Path
    data: bytes
    document: int = 0

    @property
    def rule_id(self) -> str | None:
        """The rule's ``id`` as text, if it has one."""
        return str(self.rule.id) if self.rule.id is not None else None


@dataclass
class LoadResult:
    """Rules that loaded and one error per problem found; a bad file never stops the others."""

    rules: list[LoadedRule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)

    def extend(self, other: LoadResult) -> None:
        """Add another result's rules and errors to this one."""
        self.rules.extend(other.rules)
        self.errors.extend(other.errors)


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every ``*.yml``/``*.yaml`` file named or found (recursively) under the folders named, sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                p
                for p in path.rglob("*")
                if p.suffix in RULE_SUFFIXES
                and NOT_RULES not in p.relative_to(path).parts[:-1]
                and p.is_file()
            )
        else:
            found.append(path)
    return sorted(set(found))


def load_rules(paths: Iterable[str | Path]) -> LoadResult:
    """Load every rule in the files and folders given.

    Args:
        paths: Rule files and folders (searched recursively).

    Returns:
        The rules that loaded and a ``RuleError`` for each problem, each naming its file.
    """
    result = LoadResult()
    for path in rule_files(paths):
        try:
            data = path.read_bytes()
        except OSError as exc:
            result.errors.append(RuleError(f"cannot read: {exc.strerror}", file=str(path)))
            continue
        result.extend(parse_rules(data, path))
    return result


def parse_rules(data: bytes, path: Path) -> LoadResult:
    """Parse the bytes of one rule file (one or more YAML documents) into rules and errors."""
    result = LoadResult()
    try:
        documents = list(yaml.load_all(data, Loader=yaml.CSafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = int(mark.line) + 1 if mark is not None else None
        reason = f"invalid YAML: {getattr(exc, 'problem', None) or exc}"
        result.errors.append(RuleError(reason, file=str(path), line=line))
        return result
    for index, document in enumerate(documents):
        if document is None:
            continue
        if not isinstance(document, dict):
            result.errors.append(RuleError("a rule must be a YAML mapping", file=str(path)))
            continue
        result.extend(_parse_document(document, data, path, index))
    return result


CONDITION_OPS = ("gt", "gte", "lt", "lte", "eq", "neq")


def first_bound_only(document: dict[str, Any]) -> dict[str, Any]:
    """A correlation whose condition is a range (Sigma allows ``gt: 100`` with ``lte: 200``) as pySigma takes it.

    pySigma 1.5 accepts one bound; it gets the first, and ``soar.rules.correlation`` reads the others.
    """
    correlation = document.get("correlation")
    if not isinstance(correlation, dict):
        return document
    condition = correlation.get("condition")
    if not isinstance(condition, dict) or sum(op in condition for op in CONDITION_OPS) < 2:
        return document
    first = next(op for op in condition if op in CONDITION_OPS)
    kept = {k: v for k, v in condition.items() if k == first or k not in CONDITION_OPS}
    return {**document, "correlation": {**correlation, "condition": kept}}


def _parse_document(document: dict[str, Any], data: bytes, path: Path, index: int) -> LoadResult:
    result = LoadResult()
    rule_id = str(document.get("id")) if document.get("id") is not None else None
    location = SigmaRuleLocation(path)
    try:
        collection = SigmaCollection.from_dicts(
            [first_bound_only(document)], collect_errors=True, source=location, resolve_references=False
        )
    except SigmaError as exc:  # raised even in collect mode by a few constructors
        result.errors.append(_rule_error(exc, data, path, index, rule_id))
        return result
    for rule in collection.rules:
        if not isinstance(rule, SigmaRule | SigmaCorrelationRule):
            reason = f"{type(rule).__name__} documents (Sigma filters) are not supported"
            result.errors.append(RuleError(reason, file=str(path), rule_id=rule_id))
            continue
        if rule.errors:
            result.errors.extend(_rule_error(e, data, path, index, rule_id) for e in rule.errors)
            continue
        result.rules.append(LoadedRule(rule, path, data, index))
    return result


def _rule_error(exc: SigmaError, data: bytes, path: Path, index: int, rule_id: str | None) -> RuleError:
    source = getattr(exc, "source", None)
    reason = str(exc.args[0]) if exc.args else str(exc)
    line = getattr(source, "line", None) or error_line(data, type(exc).__name__, index, reason)
    return RuleError(reason, file=str(path), line=line, rule_id=rule_id)
