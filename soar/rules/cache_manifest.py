"""The compile cache's manifest: what every run reads, kept small, flat and binary.

``manifest.bin`` is a magic line, the CRC-32 and length of what follows, one orjson header line and
columns with one row per rule file. The header holds the format, salt and byte order, the outcome
store's file name and its blocks (``[offset, length, crc32, files]`` each), the number of rows and
the last walk (see :class:`Walk`). The columns are the paths (UTF-8, NUL-separated), then six int64
columns: the ``stat`` signature (size, mtime_ns, ctime_ns, inode; ``-1`` when the signature was too
recent to trust) and where the outcome lies (block, position in it).

Rows are kept in the order of the last run, so the next run over the same files checks them column
by column (one list comparison each) and looks only at the rows that differ. Decoding is a CRC, a
split and six ``array.frombytes``: no object per number until a column is compared.
"""

from __future__ import annotations

import os
import struct
import sys
import tempfile
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter, ne
from pathlib import Path
from typing import Any

import orjson

CACHE_FORMAT = "6"
MANIFEST_NAME = "manifest.bin"
MAGIC = b"soar rules cache manifest\n"
UNTRUSTED = (-1, -1, -1, -1)  # the signature of a file whose stat was too recent to trust
NOWHERE = (-1, -1)  # the place of a file with no stored outcome (a correlation, an unreadable file)
SIGNATURE = 4  # size, mtime_ns, ctime_ns, inode
COLUMNS = SIGNATURE + 2  # and block, position

Signature = tuple[int, ...]  # size, mtime_ns, ctime_ns, inode
_MISSING = (-2, -2, -2, -2)  # the signature of a file that cannot be stat'ed: matches no row
_FIELDS = [attrgetter(name) for name in ("st_size", "st_mtime_ns", "st_ctime_ns", "st_ino")]
_CHUNK = 64  # rows compared at once when looking for the ones that changed
_PREFIX = struct.Struct("<II")  # CRC-32 and length of the rest
_PATHS_ENCODING = ("utf-8", "surrogatepass")  # round-trips any ``str`` a path can be


@dataclass(slots=True)
class Walk:
    """The last walk of one rule folder: the folders seen and their signatures, taken before listing.

    While no folder's signature changed, no folder gained or lost an entry: the walk would find the
    same files, the manifest's first ``files`` rows.
    """

    root: str = ""
    folders: list[str] = field(default_factory=list)
    signatures: list[Signature] = field(default_factory=list)
    files: int = 0


def _columns() -> list[array[int]]:
    return [array("q") for _ in range(COLUMNS)]


@dataclass(slots=True)
class Manifest:
    """A decoded manifest: parallel columns, one row per rule file, in the last run's order."""

    store: str = ""
    blocks: list[list[int]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    columns: list[array[int]] = field(default_factory=_columns)  # the signature's four, block, position
    joined: str = ""  # the paths joined by NUL, as stored: one comparison checks the row order
    encoded: bytes | memoryview | None = None  # ``joined`` as stored, while the paths are unchanged
    walk: Walk = field(default_factory=Walk)
    _index: dict[str, int] | None = None

    @property
    def index(self) -> dict[str, int]:
        """Each path's row number (built on first use)."""
        if self._index is None:
            self._index = dict(zip(self.paths, range(len(self.paths)), strict=True))
        return self._index

    def aligned(self, joined: str) -> bool:
        """Whether the first rows are exactly the files whose NUL-joined paths are ``joined``."""
        stored = self.joined
        if len(stored) == len(joined):
            return stored == joined
        return bool(joined) and stored.startswith(joined) and stored[len(joined)] == "\0"

    def signature(self, row: int) -> tuple[int, ...]:
        """Row ``row``'s ``stat`` signature."""
        return tuple(column[row] for column in self.columns[:SIGNATURE])

    def place(self, row: int) -> tuple[int, int]:
        """Row ``row``'s block number and position in that block."""
        return self.columns[SIGNATURE][row], self.columns[SIGNATURE + 1][row]

    def set_row(self, row: int, signature: Sequence[int], place: Sequence[int] | None = None) -> None:
        """Replace row ``row``'s signature, and its place if given."""
        for column, value in zip(self.columns, [*signature, *(place or self.place(row))], strict=True):
            column[row] = value

    def set_rows(
        self, paths: list[str], signatures: list[Sequence[int]], places: list[Sequence[int]]
    ) -> None:
        """Replace every row (the store, blocks and walk stay)."""
        self.paths, self.joined, self.encoded, self._index = paths, "\0".join(paths), None, None
        signature_columns = [array("q", [s[n] for s in signatures]) for n in range(SIGNATURE)]
        self.columns = [*signature_columns, *(array("q", [p[n] for p in places]) for n in range(2))]


def signature(path: str) -> Signature:
    """The ``stat`` signature of a file or folder; one that matches nothing if it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return _MISSING
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def signatures(paths: list[str]) -> list[list[int]]:
    """The files' ``stat`` signatures as four columns (``stat`` and each column run in ``map``)."""
    try:
        stats = list(map(os.stat, paths))
    except (OSError, ValueError):  # a file gone or odd: file by file
        return [list(column) for column in zip(*map(signature, paths), strict=True)] or [[]] * SIGNATURE
    return [list(map(get, stats)) for get in _FIELDS]


def differing(current: list[list[int]], stored: list[list[int]]) -> set[int]:
    """The rows whose values differ in any column: one comparison per column when none does.

    A column that differs is compared by chunks, and only a chunk that differs value by value.
    """
    changed: set[int] = set()
    for now, then in zip(current, stored, strict=True):
        if now == then:
            continue
        for start in range(0, len(now), _CHUNK):
            end = start + _CHUNK
            if now[start:end] != then[start:end]:
                changed.update(compress(range(start, end), map(ne, now[start:end], then[start:end])))
    return changed


def load_manifest(path: Path, salt: str) -> Manifest:
    """The manifest at ``path``, or an empty one if it is missing, corrupt, foreign or of another salt."""
    try:
        data = path.read_bytes()
    except OSError:
        return Manifest()
    try:
        return decode_manifest(data, salt) or Manifest()
    except (ValueError, TypeError, KeyError, OverflowError, struct.error):
        return Manifest()


def decode_manifest(data: bytes, salt: str) -> Manifest | None:
    """The manifest in ``data``; None if it is of another format or salt, or fails its CRC.

    Raises:
        ValueError: (or TypeError, KeyError) The bytes are not a well-formed manifest.
    """
    if not data.startswith(MAGIC):
        return None
    head = len(MAGIC) + _PREFIX.size
    crc, length = _PREFIX.unpack_from(data, len(MAGIC))
    body = memoryview(data)[head:]
    if len(body) != length or zlib.crc32(body) != crc:
        return None
    start = data.index(b"\n", head) + 1 - head  # the header is one line
    header: dict[str, Any] = orjson.loads(body[:start])
    if (header["format"], header["salt"], header["order"]) != (CACHE_FORMAT, salt, sys.byteorder):
        return None
    store, blocks, count, size = header["store"], header["blocks"], header["rows"], header["paths"]
    if not (type(store) is str and type(blocks) is list and type(count) is int and type(size) is int):
        raise TypeError("a manifest header of the wrong shape")
    if not all(type(b) is list and len(b) == 4 and all(type(n) is int for n in b) for b in blocks):
        raise TypeError("a manifest block is four numbers")
    numbers = start + size
    if count < 0 or size < 0 or len(body) != numbers + 8 * COLUMNS * count:
        raise ValueError("the manifest's columns do not add up")
    encoded = body[start:numbers]
    joined = str(encoded, *_PATHS_ENCODING)
    paths = joined.split("\0") if count else []
    if len(paths) != count:
        raise ValueError("one path per row")
    columns = _columns()
    for number, column in enumerate(columns):
        column.frombytes(body[numbers + 8 * count * number : numbers + 8 * count * (number + 1)])
    return Manifest(store, blocks, paths, columns, joined, encoded, _walk(header.get("walk"), count))


def _walk(raw: Any, count: int) -> Walk:
    """The header's walk; an empty one (never matched) if it is not well formed."""
    if not (type(raw) is dict and type(raw.get("root")) is str and type(raw.get("files")) is int):
        return Walk()
    folders, signatures = raw.get("folders"), raw.get("signatures")
    if not (type(folders) is list and type(signatures) is list and len(folders) == len(signatures)):
        return Walk()
    if not all(type(f) is str for f in folders) or not 0 <= raw["files"] <= count:
        return Walk()
    if not all(type(s) is list and len(s) == SIGNATURE and set(map(type, s)) <= {int} for s in signatures):
        return Walk()
    return Walk(raw["root"], folders, [tuple(s) for s in signatures], raw["files"])


def encode_manifest(salt: str, manifest: Manifest) -> bytes:
    """The bytes of a manifest (see the module docstring)."""
    return b"".join(_chunks(salt, manifest))


def _chunks(salt: str, manifest: Manifest) -> list[bytes | memoryview]:
    """The manifest's bytes in pieces (the paths as read, when unchanged): written without joining them."""
    paths, walk = manifest.paths, manifest.walk
    joined = manifest.encoded
    if joined is None:
        joined = "\0".join(paths).encode(*_PATHS_ENCODING)
    header = {
        "format": CACHE_FORMAT,
        "salt": salt,
        "order": sys.byteorder,
        "store": manifest.store,
        "blocks": manifest.blocks,
        "rows": len(paths),
        "paths": len(joined),
        "walk": {
            "root": walk.root,
            "folders": walk.folders,
            "signatures": walk.signatures,
            "files": walk.files,
        },
    }
    if any(len(column) != len(paths) for column in manifest.columns):
        raise ValueError("every column has one value per row")
    body: list[bytes | memoryview] = [orjson.dumps(header) + b"\n", joined]
    body += [memoryview(column).cast("B") for column in manifest.columns]
    crc = length = 0
    for chunk in body:
        crc = zlib.crc32(chunk, crc)
        length += len(chunk)
    return [MAGIC + _PREFIX.pack(crc, length), *body]


def save_manifest(directory: Path, salt: str, manifest: Manifest) -> None:
    """Write the manifest atomically (a temporary file, then ``os.replace``)."""
    chunks = _chunks(salt, manifest)
    target = directory / MANIFEST_NAME
    fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST_NAME}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.writelines(chunks)
        os.replace(tmp, target)  # a concurrent reader never sees half a file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
