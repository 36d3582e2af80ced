"""The compile cache: one index file per cache directory, recognising unchanged rule files by ``stat``.

``index.json`` (orjson) maps each rule file's path, as compiled, to its ``stat`` signature (size,
mtime_ns, ctime_ns, inode), the sha256 of its bytes, a cache key, and the file's whole outcome: its
compiled rules *and* its ``RuleError``s (a refused rule is an outcome too). A file whose signature
is unchanged is served without being read; a changed signature means read and hash, and the same
hash means reuse. The cache key is the sha256 of the compiler salt (cache format, pipeline and
backend versions, field-types fingerprint) and the content hash, so a new compiler or new field
types never reuse an old outcome.

Never stale: the signature is taken (``fstat``) before the bytes are read, so a write during the
read leaves a signature that no longer matches; a signature younger than :data:`RACY_NS` is not
trusted (a later write in the same timestamp tick could keep it), so such files are hashed on the
next run. The index is written atomically (temporary file, then ``os.replace``); a missing, corrupt
or foreign index is ignored, which only costs a full compile.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from soar.errors import RuleError
from soar.rules.models import CompiledRule

CACHE_FORMAT = "3"
INDEX_NAME = "index.json"
RACY_NS = 2_000_000_000  # a signature this recent may not change on a write in the same tick

Signature = list[int]  # size, mtime_ns, ctime_ns, inode


@dataclass(slots=True)
class FileOutcome:
    """What compiling one rule file produced: its compiled rules and one error per refused rule."""

    rules: list[CompiledRule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)


@dataclass
class _Pending:
    """A file read in this run: its signature (None when too recent to trust) and content hash."""

    signature: Signature | None
    sha: str


class RuleCache:
    """The outcomes of compiled rule files in one cache directory, keyed by path.

    Use :meth:`get` for each file, :meth:`put` for each file compiled, then :meth:`save` once.
    """

    def __init__(self, directory: Path, salt: str) -> None:
        """Load the directory's index; an unusable index is treated as empty.

        Args:
            directory: The cache directory (created on :meth:`save`).
            salt: Everything besides a file's bytes that its outcome depends on.
        """
        self._dir = directory
        self._salt = hashlib.sha256(salt.encode("utf-8")).hexdigest()
        self._entries = _load_index(directory / INDEX_NAME, self._salt)
        self._pending: dict[str, _Pending] = {}
        self._seen: set[str] = set()
        self._dirty = False

    def get(self, path: str) -> FileOutcome | bytes:
        """The cached outcome of a rule file if still valid, else the file's bytes to compile.

        Args:
            path: The file, spelled as in the compiled rules and errors.

        Raises:
            OSError: The file cannot be read.
        """
        self._seen.add(path)
        entry = self._entries.get(path)
        if entry is not None and (outcome := _outcome(path, entry, signature=_signature(path))):
            return outcome
        signature, data = _read(path)
        sha = hashlib.sha256(data).hexdigest()
        if entry is not None and (outcome := _outcome(path, entry, sha=sha)) is not None:
            if entry[0] != signature:
                entry[0] = signature
                self._dirty = True
            return outcome
        self._pending[path] = _Pending(signature, sha)
        return data

    def put(self, path: str, outcome: FileOutcome) -> None:
        """Record the outcome of a file just compiled from the bytes :meth:`get` returned."""
        pending = self._pending.pop(path)
        self._entries[path] = [
            pending.signature,
            pending.sha,
            [rule.model_dump(mode="json") for rule in outcome.rules],
            [_dump_error(path, error) for error in outcome.errors],
        ]
        self._dirty = True

    def save(self) -> None:
        """Forget deleted files and write the index atomically if anything changed."""
        for key in [k for k in self._entries if k not in self._seen]:
            if not os.path.lexists(key):  # a file not compiled this run is kept while it exists
                del self._entries[key]
                self._dirty = True
        if not self._dirty:
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        payload = orjson.dumps({"format": CACHE_FORMAT, "salt": self._salt, "files": self._entries})
        fd, tmp = tempfile.mkstemp(prefix=f".{INDEX_NAME}.", suffix=".tmp", dir=self._dir)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(payload)
            os.replace(tmp, self._dir / INDEX_NAME)  # a concurrent reader never sees half a file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._dirty = False


def _outcome(
    path: str, entry: list[Any], *, signature: Signature | None = None, sha: str | None = None
) -> FileOutcome | None:
    """An entry's outcome if its signature is trusted and equal to ``signature``, or its hash is ``sha``."""
    try:
        known, digest, rules, errors = entry
        if not ((known is not None and known == signature) or digest == sha):
            return None
        compiled = [CompiledRule.model_validate(rule) for rule in rules] if rules else []
        return FileOutcome(compiled, _load_errors(path, errors) if errors else [])
    except (ValidationError, TypeError, ValueError, KeyError):  # a damaged entry: compile again
        return None


def _load_index(path: Path, salt: str) -> dict[str, list[Any]]:
    try:
        index = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(index, dict) or (index.get("format"), index.get("salt")) != (CACHE_FORMAT, salt):
        return {}
    files = index.get("files")
    return files if isinstance(files, dict) else {}  # entries are checked when used


def _signature(path: str) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _read(path: str) -> tuple[Signature | None, bytes]:
    """The signature (taken before reading; None if too recent to trust) and bytes of a file."""
    with open(path, "rb") as handle:
        st = os.fstat(handle.fileno())
        data = handle.read()
    if max(st.st_mtime_ns, st.st_ctime_ns) > time.time_ns() - RACY_NS:
        return None, data
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino], data


def _dump_error(path: str, error: RuleError) -> list[Any]:
    """An error as stored: the message without its leading file when that file is ``path``."""
    message = str(error)
    if error.file == path and message.startswith(path):
        return [message[len(path) :], error.reason, error.line, error.field, error.rule_id]
    return [message, error.reason, error.line, error.field, error.rule_id, error.file]


def _load_errors(path: str, stored: list[list[Any]]) -> list[RuleError]:
    """Rebuild ``RuleError``s as ``RuleError.__init__`` left them, without rendering messages again."""
    errors: list[RuleError] = []
    new = RuleError.__new__
    for raw in stored:
        if len(raw) == 5:
            tail, reason, line, field_, rule_id = raw
            message, file = path + tail, path  # TypeError unless the tail is text
        else:
            message, reason, line, field_, rule_id, file = raw
            if type(message) is not str:
                raise TypeError("a cached error's message must be text")
        error = new(RuleError, message)  # args == (message,), as after __init__
        attributes = error.__dict__
        attributes["rule_id"], attributes["reason"], attributes["file"] = rule_id, reason, file
        attributes["line"], attributes["field"] = line, field_
        errors.append(error)
    return errors
