"""The compile cache's manifest: what every run reads, kept small and flat.

``manifest.json`` (orjson) holds the format and salt, the outcome store's file name and its blocks
(``[offset, length, crc32, files]`` each), then three parallel columns: the rule files' paths,
their ``stat`` signatures (size, mtime_ns, ctime_ns, inode: four numbers per file, ``-1`` when the
signature was too recent to trust) and where their outcomes lie (block and position: two numbers
per file). Flat columns decode several times faster than one small object per file.
"""

from __future__ import annotations

import gc
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

CACHE_FORMAT = "5"
MANIFEST_NAME = "manifest.json"
UNTRUSTED = [-1, -1, -1, -1]  # the signature of a file whose stat was too recent to trust

Signature = list[int]  # size, mtime_ns, ctime_ns, inode


@dataclass(slots=True)
class Manifest:
    """A decoded manifest; ``index`` maps each path to its row number."""

    store: str = ""
    blocks: list[list[int]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    signatures: list[Any] = field(default_factory=list)
    where: list[int] = field(default_factory=list)  # block, position per file
    index: dict[str, int] = field(default_factory=dict)

    def remove(self, numbers: set[int]) -> None:
        """Drop these rows (``index`` then no longer applies)."""
        if len(numbers) > 64:
            keep = [n for n in range(len(self.paths)) if n not in numbers]
            self.paths = [self.paths[n] for n in keep]
            self.signatures = [x for n in keep for x in self.signatures[4 * n : 4 * n + 4]]
            self.where = [x for n in keep for x in self.where[2 * n : 2 * n + 2]]
        else:
            for number in sorted(numbers, reverse=True):
                del self.paths[number], self.signatures[4 * number : 4 * number + 4]
                del self.where[2 * number : 2 * number + 2]
        self.index = {}


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while decoding many objects that all stay alive."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_manifest(path: Path, salt: str) -> Manifest:
    """The manifest at ``path``, or an empty one if it is missing, corrupt, foreign or of another salt."""
    try:
        with no_gc():
            raw = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return Manifest()
    if not isinstance(raw, dict) or (raw.get("format"), raw.get("salt")) != (CACHE_FORMAT, salt):
        return Manifest()
    columns: list[Any] = [raw.get(key) for key in ("store", "blocks", "paths", "signatures", "where")]
    store, blocks, paths, signatures, where = columns
    if not (type(store) is str and all(type(x) is list for x in (blocks, paths, signatures, where))):
        return Manifest()
    if not all(type(b) is list and len(b) == 4 and all(type(n) is int for n in b) for b in blocks):
        return Manifest()
    if not (len(signatures) == 4 * len(paths) and len(where) == 2 * len(paths)):
        return Manifest()  # a signature of another type never matches
    if not set(map(type, where)) <= {int}:
        return Manifest()
    if not set(map(type, paths)) <= {str}:
        return Manifest()
    index = dict(zip(paths, range(len(paths)), strict=True))
    if len(index) != len(paths):
        return Manifest()
    return Manifest(store, blocks, paths, signatures, where, index)


def save_manifest(directory: Path, salt: str, manifest: Manifest) -> None:
    """Write the manifest atomically (a temporary file, then ``os.replace``)."""
    payload = {"format": CACHE_FORMAT, "salt": salt, "store": manifest.store, "blocks": manifest.blocks}
    columns = {"paths": manifest.paths, "signatures": manifest.signatures, "where": manifest.where}
    data = orjson.dumps({**payload, **columns})
    target = directory / MANIFEST_NAME
    fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST_NAME}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)  # a concurrent reader never sees half a file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
