"""The compile cache: a small manifest read on every run, and a store of outcome blocks.

The manifest (:mod:`soar.rules.cache_manifest`) maps each rule file's path, as compiled, to its
``stat`` signature (size, mtime_ns, ctime_ns, inode) and to where its outcome lies: a block of the
outcome store (:mod:`soar.rules.cache_store`) and its position there. The block holds the file's sha256 and its
whole outcome: its compiled rules *and* its ``RuleError``s (a refused rule is an outcome too). A
file whose signature is unchanged is served without being read; a changed signature means read
and hash, and the same hash means reuse. The manifest is bound to a salt (cache format, pipeline
and backend versions, field-types fingerprint), so a new compiler or new field types never reuse
an old outcome.

A run decodes only the blocks it serves from, each once, into one list of rules and one of errors;
consecutive files of a block are then served as one slice of each. An incremental run appends one
block (the changed files) and rewrites the manifest; the store is compacted into a new file once
it holds too many blocks or too much that no file refers to.

Never stale: the signature is taken (``fstat``) before the bytes are read, so a write during the
read leaves a signature that no longer matches; a signature younger than :data:`RACY_NS` is not
trusted (a later write in the same timestamp tick could keep it), so such files are hashed on the
next run. A block is checked against its CRC-32 and must name the file at that position. The
manifest is written atomically (temporary file, then ``os.replace``); a missing, corrupt or foreign
manifest or block is ignored, which only costs compiling again.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from soar.errors import RuleError
from soar.rules import cache_store
from soar.rules.cache_manifest import (
    CACHE_FORMAT,
    MANIFEST_NAME,
    UNTRUSTED,
    Manifest,
    Signature,
    load_manifest,
    no_gc,
    save_manifest,
)
from soar.rules.cache_store import BAD_BLOCK, Block, Fresh
from soar.rules.models import CompiledRule

__all__ = ["CACHE_FORMAT", "INDEX_NAME", "FileOutcome", "Hit", "RuleCache", "assemble"]

INDEX_NAME = MANIFEST_NAME
RACY_NS = 2_000_000_000  # a signature this recent may not change on a write in the same tick
MAX_BLOCKS = 16  # compact the store beyond this many blocks

Hit = tuple[Block, int, int, int, int]  # a block, and a file's rules and errors slices in it


@dataclass(slots=True)
class FileOutcome:
    """What compiling one rule file produced: its compiled rules and one error per refused rule."""

    rules: list[CompiledRule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)


class RuleCache:
    """The outcomes of compiled rule files in one cache directory, keyed by path.

    Use :meth:`get` for each file, :meth:`put` for each file compiled, :func:`assemble` for the
    result, then :meth:`save` once.
    """

    def __init__(self, directory: Path, salt: str) -> None:
        """Load the directory's manifest; an unusable one is treated as empty.

        Args:
            directory: The cache directory (created on :meth:`save`).
            salt: Everything besides a file's bytes that its outcome depends on.
        """
        self._dir = directory
        self._salt = hashlib.sha256(salt.encode("utf-8")).hexdigest()
        self._manifest = load_manifest(directory / MANIFEST_NAME, self._salt)
        self._store: bytes | None = None
        self._blocks: dict[int, Block | None] = {}
        self._pending: dict[str, tuple[Signature, str]] = {}
        self._fresh: list[tuple[Signature, Fresh]] = []
        self._dropped: set[int] = set()  # manifest rows compiled again in this run
        self._seen: dict[str, None] = {}  # in run order
        self._dirty = False

    def lookup(self, paths: list[str]) -> list[Hit | None]:
        """Per file, its cached outcome if its ``stat`` signature is unchanged, else None.

        One pass with no file read; the files given None go through :meth:`get`.
        """
        self._seen.update(dict.fromkeys(paths))
        index, signatures, where = self._manifest.index, self._manifest.signatures, self._manifest.where
        blocks, stat, found = self._blocks, os.stat, list[Hit | None]()
        for path in paths:
            number = index.get(path)
            if number is None:
                found.append(None)
                continue
            try:
                st = stat(path)
            except OSError:
                found.append(None)
                continue
            k, w = 4 * number, 2 * number
            if (
                st.st_mtime_ns != signatures[k + 1]
                or st.st_size != signatures[k]
                or st.st_ctime_ns != signatures[k + 2]
                or st.st_ino != signatures[k + 3]
            ):
                found.append(None)
                continue
            block, position = blocks.get(where[w]) or self._block(where[w]), where[w + 1]
            if block is not None and 0 <= position < len(block.paths) and block.paths[position] == path:
                found.append(block.hits[position])
            else:
                found.append(None)
        return found

    def get(self, path: str) -> Hit | bytes:
        """The cached outcome of a file whose contents are unchanged, else its bytes to compile.

        The file is read and hashed: call this for the files :meth:`lookup` did not serve.

        Args:
            path: The file, spelled as in the compiled rules and errors.

        Raises:
            OSError: The file cannot be read.
        """
        self._seen[path] = None
        signatures = self._manifest.signatures
        number = self._manifest.index.get(path)
        signature, data = _read(path)
        sha = hashlib.sha256(data).hexdigest()
        if number is not None and (hit := self._hit(path, number, sha)) is not None:
            if signatures[4 * number : 4 * number + 4] != signature:
                signatures[4 * number : 4 * number + 4] = signature
                self._dirty = True
            return hit
        self._pending[path] = (signature, sha)
        return data

    def put(self, path: str, outcome: FileOutcome) -> None:
        """Record the outcome of a file just compiled from the bytes :meth:`get` returned."""
        signature, sha = self._pending.pop(path)
        self._fresh.append((signature, Fresh(path, sha, outcome.rules, outcome.errors)))
        number = self._manifest.index.get(path)
        if number is not None:
            self._dropped.add(number)
        self._dirty = True

    def save(self) -> None:
        """Forget deleted files, store the new outcomes and write the manifest if anything changed."""
        manifest, seen = self._manifest, self._seen
        gone = {n for n, p in enumerate(manifest.paths) if p not in seen and not os.path.lexists(p)}
        if not (self._dirty or gone):
            return  # a file not compiled this run is kept while it exists
        manifest.remove(gone | self._dropped)
        self._dir.mkdir(parents=True, exist_ok=True)
        compacted = not self._append()
        if compacted:
            self._compact()
        save_manifest(self._dir, self._salt, self._manifest)
        if compacted:
            cache_store.remove_stores(self._dir, keep=self._manifest.store)
        self._fresh, self._dropped, self._dirty = [], set(), False

    def _hit(self, path: str, number: int, sha: str | None = None) -> Hit | None:
        """Row ``number``'s outcome if its block is sound, names this file, and (if given) has this hash."""
        where = self._manifest.where
        try:
            block, position = self._block(where[2 * number]), where[2 * number + 1]
            if block is None or position < 0 or block.paths[position] != path:
                return None
            if sha is not None and block.shas[position] != sha:
                return None
            return block.hits[position]
        except (TypeError, IndexError):  # a damaged row: compile again
            return None

    def _block(self, number: int) -> Block | None:
        if number in self._blocks:
            return self._blocks[number]
        block, blocks = None, self._manifest.blocks
        if self._store is None:
            self._store = cache_store.read_store(self._dir, self._manifest.store) or b""
        if 0 <= number < len(blocks):
            data = cache_store.block_bytes(self._store, blocks[number])
            try:
                with no_gc():
                    block = cache_store.decode_block(data) if data is not None else None
            except BAD_BLOCK:  # a damaged block: its files are compiled again
                block = None
        self._blocks[number] = block
        return block

    def _append(self) -> bool:
        """Append this run's outcomes as one block, unless the store is due for compaction."""
        manifest = self._manifest
        stored = sum(where[3] for where in manifest.blocks)  # a block no file refers to is never read
        if not manifest.store or len(manifest.blocks) >= MAX_BLOCKS:
            return False
        if stored > 2 * len(manifest.paths) + 64:  # mostly outcomes of changed or deleted files
            return False
        if self._fresh:
            data = cache_store.encode_block([fresh for _, fresh in self._fresh])
            where = cache_store.append_block(self._dir, manifest.store, data)
            if where is None:
                return False
            self._add_block(where)
        return True

    def _compact(self) -> None:
        """Write every live outcome, in run order, into one block of a new store file."""
        manifest = self._manifest
        for number, path in enumerate(manifest.paths):
            if (hit := self._hit(path, number)) is not None:
                block, r0, r1, e0, e1 = hit
                sha = block.shas[manifest.where[2 * number + 1]]
                signature = manifest.signatures[4 * number : 4 * number + 4]
                self._fresh.append((signature, Fresh(path, sha, block.rules[r0:r1], block.errors[e0:e1])))
        rank = {path: n for n, path in enumerate(self._seen)}
        self._fresh.sort(key=lambda item: rank.get(item[1].path, len(rank)))
        data = cache_store.encode_block([fresh for _, fresh in self._fresh])
        store, where = cache_store.write_store(self._dir, data)
        self._manifest = manifest = Manifest(store)
        self._add_block(where)

    def _add_block(self, where: list[int]) -> None:
        """Record a new block of this run's outcomes in the manifest."""
        manifest, number = self._manifest, len(self._manifest.blocks)
        manifest.blocks.append([*where, len(self._fresh)])
        for position, (signature, fresh) in enumerate(self._fresh):
            manifest.paths.append(fresh.path)
            manifest.signatures += signature
            manifest.where += (number, position)


def assemble(
    parts: Iterable[Hit | FileOutcome | None], rules: list[CompiledRule], errors: list[RuleError]
) -> None:
    """Extend ``rules`` and ``errors`` with each part's, in order; consecutive hits as one slice."""
    block: Block | None = None
    r0 = r1 = e0 = e1 = 0
    for part in parts:
        if type(part) is tuple and part[0] is block and part[1] == r1 and part[3] == e1:
            r1, e1 = part[2], part[4]  # the next file of the same block: one longer slice
            continue
        if block is not None:
            rules += block.rules[r0:r1]
            errors += block.errors[e0:e1]
        if part is None or isinstance(part, FileOutcome):
            block = None
            rules += part.rules if part else []
            errors += part.errors if part else []
        else:
            block, r0, r1, e0, e1 = part
    if block is not None:
        rules += block.rules[r0:r1]
        errors += block.errors[e0:e1]


def _read(path: str) -> tuple[Signature, bytes]:
    """The signature (taken before reading; untrusted if too recent) and bytes of a file."""
    with open(path, "rb") as handle:
        st = os.fstat(handle.fileno())
        data = handle.read()
    if max(st.st_mtime_ns, st.st_ctime_ns) > time.time_ns() - RACY_NS:
        return list(UNTRUSTED), data
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino], data
