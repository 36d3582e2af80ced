"""The outcome store of the compile cache: an append-only file of blocks, each one orjson document.

A block holds the outcomes of some rule files: their paths, content hashes, compiled rules and
``RuleError``s (a refusal is stored as the message without its leading file). The manifest
(:mod:`soar.rules.cache`) names the store file and each block's offset, length and CRC-32, and
points every rule file at its block and at its slices of the block's rules and errors.

A block is only ever appended (one ``write`` of the whole block) and referenced once written, so
a torn append leaves bytes that nothing refers to. Compaction writes a new store file under a new
name; the manifest that names it replaces the old one atomically.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from soar.errors import RuleError
from soar.rules.models import CompiledRule

STORE_PREFIX = "outcomes-"
STORE_SUFFIX = ".bin"
SHA_SIZE = 64  # hex digits of a sha256
BAD_BLOCK = (
    ValidationError,
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    StopIteration,
    orjson.JSONDecodeError,
)


@dataclass(slots=True, eq=False)
class Block:
    """One decoded block: per file (by position) its path, sha256 and slices of the rules and errors."""

    paths: list[str]
    shas: str  # the files' sha256 digests in hex, one after the other
    rules: list[CompiledRule]
    errors: list[RuleError]
    rule_starts: list[int]  # per file, where its rules start in ``rules``; then one past the last
    error_starts: list[int]

    def sha(self, position: int) -> str:
        """The sha256 (hex) of the file at ``position``."""
        return self.shas[SHA_SIZE * position : SHA_SIZE * position + SHA_SIZE]

    def outcome(self, first: int, end: int) -> tuple[list[CompiledRule], list[RuleError]]:
        """The rules and errors of the files at positions ``first`` up to ``end`` (excluded)."""
        rule_starts, error_starts = self.rule_starts, self.error_starts
        return (
            self.rules[rule_starts[first] : rule_starts[end]],
            self.errors[error_starts[first] : error_starts[end]],
        )


@dataclass(slots=True)
class Fresh:
    """A file's outcome to store: its path, content hash, compiled rules and errors."""

    path: str
    sha: str
    rules: list[CompiledRule]
    errors: list[RuleError]


def encode_block(files: list[Fresh]) -> bytes:
    """A block's bytes: the files' outcomes, in order."""
    rules: list[Any] = []
    errors = _ErrorColumns()
    rule_ends: list[int] = []
    error_ends: list[int] = []
    for position, fresh in enumerate(files):
        rules += [rule.model_dump(mode="json") for rule in fresh.rules]
        for error in fresh.errors:
            errors.add(position, fresh.path, error)
        rule_ends.append(len(rules))
        error_ends.append(len(errors.position))
    paths, shas = "\0".join(f.path for f in files), "".join(f.sha for f in files)
    payload = {"paths": paths, "shas": shas, "rule_ends": rule_ends, "error_ends": error_ends, "rules": rules}
    return orjson.dumps({**payload, "errors": errors.columns()})


def decode_block(data: bytes | memoryview) -> Block:
    """The block in ``data``.

    Raises:
        ValueError: (or another of :data:`BAD_BLOCK`) The bytes are not a well-formed block.
    """
    raw = orjson.loads(data)
    joined, shas, rule_ends, error_ends = raw["paths"], raw["shas"], raw["rule_ends"], raw["error_ends"]
    if not (type(joined) is str and type(shas) is str):
        raise TypeError("a block's paths and hashes are text")
    paths = joined.split("\0") if joined else []
    if not (len(shas) == SHA_SIZE * len(paths) and shas.isascii()):
        raise ValueError("a block needs a hash per file")
    rules = [CompiledRule.model_validate(rule) for rule in raw["rules"]]
    errors = _load_errors(paths, raw["errors"])
    for ends, items in ((rule_ends, rules), (error_ends, errors)):
        if not (type(ends) is list and len(ends) == len(paths) and set(map(type, ends)) <= {int}):
            raise ValueError("a block needs two ends per file")
        if ends != sorted(ends) or (ends and not (ends[0] >= 0 and ends[-1] == len(items))):
            raise ValueError("a block's ends must ascend up to its items")
    return Block(paths, shas, rules, errors, [0, *rule_ends], [0, *error_ends])


def read_store(directory: Path, name: str) -> bytes | None:
    """The whole store file, or None if it is missing, unreadable or not a store name."""
    if not (name.startswith(STORE_PREFIX) and name.endswith(STORE_SUFFIX) and "/" not in name):
        return None
    try:
        return (directory / name).read_bytes()
    except OSError:
        return None


def block_bytes(store: bytes, where: list[Any]) -> memoryview | None:
    """A block's bytes given ``[offset, length, crc32]``, or None if they do not check out."""
    offset, length, crc = where[0], where[1], where[2]
    if not (type(offset) is int and type(length) is int and offset >= 0 and offset + length <= len(store)):
        return None
    data = memoryview(store)[offset : offset + length]
    return data if zlib.crc32(data) == crc else None


def append_block(directory: Path, name: str, data: bytes) -> list[int] | None:
    """Append a block to an existing store file; its ``[offset, length, crc32]``, or None on failure."""
    try:
        fd = os.open(directory / name, os.O_WRONLY | os.O_APPEND)  # never create: it may be compacted away
    except OSError:
        return None
    try:
        written = os.write(fd, data)
        end = os.lseek(fd, 0, os.SEEK_CUR)
    except OSError:
        return None
    finally:
        os.close(fd)
    if written != len(data):
        return None
    return [end - len(data), len(data), zlib.crc32(data)]


def write_store(directory: Path, data: bytes) -> tuple[str, list[int]]:
    """Write a new store file holding one block; its name and the block's ``[offset, length, crc32]``."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=STORE_PREFIX, suffix=STORE_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp).name, [0, len(data), zlib.crc32(data)]


def remove_stores(directory: Path, keep: str) -> None:
    """Delete the store files other than ``keep`` (a reader of an old manifest then compiles again)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name != keep and name.startswith(STORE_PREFIX) and name.endswith(STORE_SUFFIX):
            Path(directory, name).unlink(missing_ok=True)


class _ErrorColumns:
    """Errors stored as columns; the usual refusal (``file:line: rule id: text``) as a text number."""

    def __init__(self) -> None:
        self.position: list[int] = []
        self.text: list[int] = []  # an index in ``texts``, or -1: the next of ``other``
        self.line: list[int | None] = []
        self.rule_id: list[str | None] = []
        self.texts: dict[str, int] = {}
        self.other: list[list[Any]] = []

    def add(self, position: int, path: str, error: RuleError) -> None:
        line, rule_id, reason = error.line, error.rule_id, error.reason
        prefix = f"rule {rule_id}: "
        usual = error.file == path and error.field is None and type(line) is int and rule_id
        if usual and reason.startswith(prefix) and str(error) == f"{path}:{line}: {reason}":
            self.text.append(self.texts.setdefault(reason[len(prefix) :], len(self.texts)))
        else:
            self.text.append(-1)
            self.other.append([str(error), reason, line, error.field, error.file])
        self.position.append(position)
        self.line.append(line)
        self.rule_id.append(rule_id)

    def columns(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "text": self.text,
            "line": self.line,
            "rule_id": self.rule_id,
            "texts": list(self.texts),
            "other": self.other,
        }


def _load_errors(paths: list[str], stored: dict[str, Any]) -> list[RuleError]:
    """Rebuild ``RuleError``s as ``RuleError.__init__`` left them, without rendering messages again.

    Column by column, so that most of the work runs in ``map`` and comprehensions rather than a loop.
    """
    texts, other = stored["texts"], stored["other"]
    columns = (stored["position"], stored["text"], stored["line"], stored["rule_id"])
    if len({len(column) for column in columns}) > 1:
        raise ValueError("the error columns must have one length")
    positions, numbers, lines, rule_ids = columns
    if -1 in numbers:  # the unusual errors, stored whole: rare, so one at a time
        return _load_errors_one_by_one(paths, stored)
    files = list(map(paths.__getitem__, positions))
    reasons = [f"rule {rule_id}: {texts[number]}" for rule_id, number in zip(rule_ids, numbers, strict=False)]
    messages = [f"{file}:{line}: {reason}" for file, line, reason in zip(files, lines, reasons, strict=False)]
    errors: list[RuleError] = list(map(RuleError.__new__, repeat(RuleError), messages))  # args == (message,)
    states = [
        {"rule_id": rule_id, "reason": reason, "file": file, "line": line, "field": None}
        for rule_id, reason, file, line in zip(rule_ids, reasons, files, lines, strict=False)
    ]
    for error, state in zip(errors, states, strict=False):
        error.__dict__ = state
    if other or min(numbers, default=0) < 0:
        raise ValueError("an unusual error without its place")
    return errors


def _load_errors_one_by_one(paths: list[str], stored: dict[str, Any]) -> list[RuleError]:
    errors: list[RuleError] = []
    new, append = RuleError.__new__, errors.append
    texts, other = stored["texts"], iter(stored["other"])
    columns = (stored["position"], stored["text"], stored["line"], stored["rule_id"])
    for position, text, line, rule_id in zip(*columns, strict=False):
        if text >= 0:
            file, field_, reason = paths[position], None, f"rule {rule_id}: {texts[text]}"
            message = f"{file}:{line}: {reason}"
        else:
            message, reason, line, field_, file = next(other)
            if type(message) is not str:
                raise TypeError("a cached error's message must be text")
        error = new(RuleError, message)  # args == (message,), as after __init__
        error.__dict__ = {"rule_id": rule_id, "reason": reason, "file": file, "line": line, "field": field_}
        append(error)
    return errors
