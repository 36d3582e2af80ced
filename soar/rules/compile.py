"""Compile rule files to ``CompiledRule``/``CompiledCorrelation``, with an on-disk incremental cache.

The cache (:mod:`soar.rules.cache`) keeps every file's outcome, compiled rules and refusals alike,
in a store of blocks indexed by a small manifest; an unchanged file is recognised by ``stat`` alone. Its key covers
the file's bytes, the pipeline, backend and cache-format versions and a fingerprint of the field
types. Files holding correlations are always compiled again: a correlation is resolved against the
rules of the other files, which are re-resolved (cheaply) on every run.
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Iterable, Mapping, MutableSequence
from pathlib import Path

import orjson
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from soar.errors import RuleError
from soar.rules.backend import BACKEND_VERSION, FieldTypes, QueryDslBackend, UnsupportedConstruct
from soar.rules.cache import CACHE_FORMAT, FileOutcome, RuleCache, assemble, trusted
from soar.rules.cache_manifest import UNTRUSTED, Signature
from soar.rules.cache_store import Block
from soar.rules.correlation import compile_correlation
from soar.rules.fieldmaps import map_field
from soar.rules.loader import NOT_RULES, RULE_SUFFIXES, LoadedRule, parse_rules
from soar.rules.locate import error_line, field_line, key_line
from soar.rules.models import CompiledRule, CompileResult, content_hash
from soar.rules.pipelines import PIPELINE_VERSION, describe_logsource, resolve_source
from soar.rules.validation import rule_fields
from soar.telemetry.sources import Source
from soar.telemetry.templates import field_types as template_field_types

_FEW = 64  # files to compile in a cached run with the garbage collector still paused


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
    cache = RuleCache(cache_dir, _salt(field_types)) if cache_dir is not None else None
    result = CompileResult()
    paused = cache is not None and gc.isenabled()
    if paused:  # a cached run makes thousands of objects that all live on: no collection can free one
        gc.disable()
    try:
        files = _files(cache, list(paths))
        blocks, positions = (
            cache.lookup(files) if cache is not None else ([None] * len(files), [0] * len(files))
        )
        parts: list[Block | FileOutcome | None] = [*blocks]
        misses = [n for n, part in enumerate(parts) if part is None]  # not served by stat alone
        if paused and len(misses) > _FEW:  # compiling many files makes garbage with cycles
            gc.enable()
            paused = False
        correlations = _compile_misses(cache, files, (parts, positions), misses, field_types, result)
        assemble(parts, positions, result.rules, result.errors)
        if cache is not None:
            cache.save()
    finally:
        if paused:
            _resume_gc()
    by_reference = {ref: rule for rule in result.rules for ref in (rule.rule_id, rule.name) if ref}
    for loaded in correlations:
        try:
            result.correlations.append(compile_correlation(loaded, by_reference))
        except RuleError as exc:
            result.errors.append(exc)
    return result


def _resume_gc() -> None:
    """Turn the collector back on, the objects made meanwhile (the outcomes served) in its oldest generation.

    They all live on (they are the result), so a young collection would walk thousands of them to free
    nothing; freezing and unfreezing moves every young object to the oldest generation at once instead.
    Skipped when the program has frozen objects of its own (unfreezing would undo its freeze).
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
    gc.enable()


def _compile_misses(
    cache: RuleCache | None,
    files: list[str],
    places: tuple[list[Block | FileOutcome | None], MutableSequence[int]],
    misses: list[int],
    field_types: FieldTypes,
    result: CompileResult,
) -> list[LoadedRule]:
    """Fill ``places`` (parts, positions) at ``misses``: from the cache if the bytes are unchanged, else compiled.

    Returns:
        The correlations found, to resolve once every rule is known.
    """
    backend: QueryDslBackend | None = None  # built when a file needs compiling
    correlations: list[LoadedRule] = []
    parts, positions = places
    for number in misses:
        path = files[number]
        try:
            found = cache.get(path, number) if cache is not None else Path(path).read_bytes()
        except OSError as exc:
            parts[number] = FileOutcome([], [RuleError(f"cannot read: {exc.strerror}", file=str(path))])
            continue
        if type(found) is tuple:
            parts[number], positions[number] = found
            continue
        assert isinstance(found, bytes)
        backend = backend or QueryDslBackend(field_types)
        compiled, errors, file_correlations = _compile_file(backend, found, Path(path))
        result.recompiled += len(compiled) + len(errors)
        parts[number] = outcome = FileOutcome(compiled, errors)
        correlations.extend(file_correlations)
        if cache is not None and not file_correlations:  # correlations need the other files
            cache.put(path, outcome)
    return correlations


def _files(cache: RuleCache | None, paths: list[str | Path]) -> list[str]:
    """The run's rule files: the cache's last walk of the same folder if none of its folders changed."""
    if cache is None:
        return rule_paths(paths)
    roots = [str(Path(raw)) for raw in paths]
    found = cache.files(roots)
    if found is None:
        folders: list[tuple[str, Signature]] = []
        found = rule_paths(paths, folders)
        if folders:
            cache.walked(roots[0], folders)
    return found


def rule_paths(paths: Iterable[str | Path], folders: list[tuple[str, Signature]] | None = None) -> list[str]:
    """:func:`soar.rules.loader.rule_files` as text, in the same order, with no ``stat`` per file.

    Walks folders with ``os.scandir`` (its entry types say which are files), does not descend
    into symbolic links to folders (as ``Path.rglob`` does not), and sorts as ``Path`` does.

    Args:
        paths: Rule files and folders (searched recursively for ``*.yml``/``*.yaml``).
        folders: If given and ``paths`` is one folder, filled with every folder walked and its
            signature (:func:`soar.rules.cache.trusted`), taken before it was listed; untrusted
            if it holds a symbolic link named like a rule file (its target can change unseen).

    Returns:
        Every rule file named or found, spelled as ``str(Path)`` would spell it.
    """
    roots = [Path(raw) for raw in paths]
    if len(roots) == 1 and roots[0].is_dir():  # a walk in name order is already in Path order
        prefix = _prefix(str(roots[0]))
        return [prefix + relative for relative in _walk(str(roots[0]), folders)]
    found: dict[str, str] = {}  # path -> sort key: its parts joined by NUL, as Path compares parts
    for root in roots:
        text, key = str(root), "\0".join(root.parts)
        if not root.is_dir():
            found[text] = key
            continue
        prefix = _prefix(text)
        for relative in _walk(text):
            parts = relative.replace("/", "\0")
            found[prefix + relative] = f"{key}\0{parts}" if key else parts
    return sorted(found, key=found.__getitem__)


def _prefix(folder: str) -> str:
    return "" if folder == "." else folder if folder.endswith("/") else f"{folder}/"


def _walk(root: str, folders: list[tuple[str, Signature]] | None = None) -> list[str]:
    """Rule files under a folder, relative to it, with ``Path.rglob`` semantics, in ``Path`` order.

    ``Path`` order compares parts, so visiting each folder's entries by name, depth first, is that order.
    """
    found: list[str] = []
    _visit(root, "", found, folders)
    return found


def _visit(folder: str, relative: str, found: list[str], folders: list[tuple[str, Signature]] | None) -> None:
    if folders is not None:  # the signature before the listing: a later change never goes unseen
        try:
            folders.append((folder, trusted(os.stat(folder))))
        except OSError:
            folders.append((folder, UNTRUSTED))
        mark = len(folders) - 1
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=_name)
    except PermissionError:
        return
    for entry in entries:
        name = entry.name
        if entry.is_dir(follow_symlinks=False):
            if name != NOT_RULES:
                _visit(entry.path, f"{relative}{name}/", found, folders)
        elif name.endswith(RULE_SUFFIXES) and name not in RULE_SUFFIXES:
            if folders is not None and entry.is_symlink():
                folders[mark] = (folder, UNTRUSTED)
            if entry.is_file():
                found.append(relative + name)


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


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


def _salt(field_types: FieldTypes) -> str:
    """Everything besides a file's bytes that its outcome depends on."""
    return f"{CACHE_FORMAT}:{PIPELINE_VERSION}:{BACKEND_VERSION}:{_fingerprint(field_types)}"


def _fingerprint(field_types: FieldTypes) -> str:
    types: dict[str, Mapping[str, str] | str] = {}
    for source in Source:
        try:
            types[source.value] = dict(field_types(source))
        except OSError:  # a source whose template is not written yet
            types[source.value] = "missing"
    return hashlib.sha256(orjson.dumps(types, option=orjson.OPT_SORT_KEYS)).hexdigest()
