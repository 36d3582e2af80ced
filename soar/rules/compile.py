"""Compile rule files to ``CompiledRule``/``CompiledCorrelation``, with an on-disk cache by file content.

The cache key is the sha256 of the rule file's bytes, the pipeline, backend and cache-format
versions, and a fingerprint of the field types; a cache entry is one JSON file holding the file's
compiled rules. Only files whose every document compiled are cached; correlations are always
re-resolved (cheaply) against the compiled rules, because they depend on other files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import ValidationError
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from soar.errors import RuleError
from soar.rules.backend import BACKEND_VERSION, FieldTypes, QueryDslBackend, UnsupportedConstruct
from soar.rules.correlation import compile_correlation
from soar.rules.fieldmaps import map_field
from soar.rules.loader import LoadedRule, parse_rules, rule_files
from soar.rules.locate import error_line, field_line, key_line
from soar.rules.models import CompiledRule, CompileResult, content_hash
from soar.rules.pipelines import PIPELINE_VERSION, describe_logsource, resolve_source
from soar.rules.validation import rule_fields
from soar.telemetry.sources import Source
from soar.telemetry.templates import field_types as template_field_types

CACHE_FORMAT = "1"


def default_cache_dir(data_dir: Path) -> Path:
    """Where compiled rules are cached under soar's data directory."""
    return data_dir / "rules-cache"


def compile_rules(
    paths: Iterable[str | Path],
    *,
    cache_dir: Path | None = None,
    field_types: FieldTypes = template_field_types,
) -> CompileResult:
    """Compile every rule in the files and folders given; one bad rule never stops the others.

    Args:
        paths: Rule files and folders (searched recursively for ``*.yml``/``*.yaml``).
        cache_dir: Cache directory (see :func:`default_cache_dir`); None compiles everything.
        field_types: The ``dotted field -> mapping type`` lookup of a source.

    Returns:
        Compiled rules and correlations, and a ``RuleError`` per rule that failed.
    """
    backend = QueryDslBackend(field_types)
    cache = _Cache(cache_dir, _fingerprint(field_types)) if cache_dir is not None else None
    result = CompileResult()
    correlations: list[LoadedRule] = []
    for path in rule_files(paths):
        try:
            data = path.read_bytes()
        except OSError as exc:
            result.errors.append(RuleError(f"cannot read: {exc.strerror}", file=str(path)))
            continue
        cached = cache.get(data) if cache is not None else None
        if cached is not None:
            result.rules.extend(rule.model_copy(update={"path": str(path)}) for rule in cached)
            continue
        compiled, errors, file_correlations = _compile_file(backend, data, path)
        result.recompiled += len(compiled) + len(errors)
        result.rules.extend(compiled)
        result.errors.extend(errors)
        correlations.extend(file_correlations)
        if cache is not None and not errors and not file_correlations:
            cache.put(data, compiled)
    by_reference = {ref: rule for rule in result.rules for ref in (rule.rule_id, rule.name) if ref}
    for loaded in correlations:
        try:
            result.correlations.append(compile_correlation(loaded, by_reference))
        except RuleError as exc:
            result.errors.append(exc)
    return result


def _compile_file(
    backend: QueryDslBackend, data: bytes, path: Path
) -> tuple[list[CompiledRule], list[RuleError], list[LoadedRule]]:
    loaded = parse_rules(data, path)
    compiled: list[CompiledRule] = []
    errors = list(loaded.errors)
    correlations: list[LoadedRule] = []
    for item in loaded.rules:
        if isinstance(item.rule, SigmaCorrelationRule):
            correlations.append(item)
            continue
        try:
            compiled.append(compile_rule(backend, item))
        except RuleError as exc:
            errors.append(exc)
    return compiled, errors, correlations


def compile_rule(backend: QueryDslBackend, loaded: LoadedRule) -> CompiledRule:
    """Compile one freshly loaded Sigma rule (the pipeline changes it in place).

    Raises:
        RuleError: The rule cannot be expressed in Query DSL; names file, line, rule id and field.
    """
    rule = loaded.rule
    assert isinstance(rule, SigmaRule)  # correlations go through compile_correlation
    where = {"file": str(loaded.path), "rule_id": loaded.rule_id}
    if loaded.rule_id is None:
        raise RuleError("the rule has no id", line=key_line(loaded.data, "title", loaded.document), **where)
    source = resolve_source(rule.logsource)
    if source is None:
        reason = f"logsource {describe_logsource(rule.logsource)} maps to no soar source"
        raise RuleError(reason, line=key_line(loaded.data, "logsource", loaded.document), **where)
    originals = {map_field(source, f): f for f in rule_fields(rule)}
    try:
        query = backend.rule_query(rule)
    except UnsupportedConstruct as exc:
        field = originals.get(exc.field or "", exc.field)
        line = field_line(loaded.data, field, loaded.document, exc.selection) if field else None
        line = line or key_line(loaded.data, "detection", loaded.document)
        raise RuleError(str(exc.args[0]), line=line, field=field, **where) from exc
    except (SigmaError, OSError) as exc:  # OSError: a source without its template file
        line = error_line(loaded.data, type(exc).__name__, loaded.document)
        raise RuleError(str(exc), line=line, **where) from exc
    return _compiled(loaded, rule, query.query, query.source, query.index)


def _compiled(
    loaded: LoadedRule, rule: SigmaRule, query: dict[str, object], source: Source, index: str
) -> CompiledRule:
    version = rule.modified or rule.date
    meta = {
        "rule_id": str(rule.id),
        "title": rule.title,
        "level": rule.level.name.lower() if rule.level else None,
        "status": rule.status.name.lower() if rule.status else None,
        "description": rule.description,
        "tags": [str(tag) for tag in rule.tags or []],
        "source": source.value,
        "index": index,
        "version": version.isoformat() if version else None,
        "name": rule.name,
    }
    digest = content_hash({**meta, "query": query})
    return CompiledRule.model_validate(
        {**meta, "query": query, "content_hash": digest, "path": str(loaded.path)}
    )


def _fingerprint(field_types: FieldTypes) -> str:
    types: dict[str, Mapping[str, str] | str] = {}
    for source in Source:
        try:
            types[source.value] = dict(field_types(source))
        except OSError:  # a source whose template is not written yet
            types[source.value] = "missing"
    return content_hash(types)


class _Cache:
    """One JSON file of compiled rules per rule-file content."""

    def __init__(self, directory: Path, fingerprint: str) -> None:
        self._dir = directory
        self._salt = f"{CACHE_FORMAT}:{PIPELINE_VERSION}:{BACKEND_VERSION}:{fingerprint}:".encode()

    def _path(self, data: bytes) -> Path:
        return self._dir / f"{hashlib.sha256(self._salt + data).hexdigest()}.json"

    def get(self, data: bytes) -> list[CompiledRule] | None:
        path = self._path(data)
        try:
            entries = json.loads(path.read_text("utf-8"))
            return [CompiledRule.model_validate(entry) for entry in entries]
        except (OSError, ValueError, ValidationError):
            return None  # absent or unreadable: compile again

    def put(self, data: bytes, rules: list[CompiledRule]) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self._path(data)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([r.model_dump(mode="json") for r in rules]), "utf-8")
        tmp.replace(path)  # atomic: a concurrent reader never sees half a file
