"""The compile cache: a small manifest read on every run, and a store of outcome blocks.

The manifest (:mod:`soar.rules.cache_manifest`) has one row per rule file of the last run, in its
order: the path as compiled, its ``stat`` signature (size, mtime_ns, ctime_ns, inode) and where its
outcome lies: a block of the outcome store (:mod:`soar.rules.cache_store`) and its position there.
The block holds the file's sha256 and its whole outcome: its compiled rules *and* its ``RuleError``s
(a refused rule is an outcome too). A file whose signature is unchanged is served without being
read; a changed signature means read and hash, and the same hash means reuse. The manifest is bound
to a salt (cache format, pipeline and backend versions, field-types fingerprint), so a new compiler
or new field types never reuse an old outcome.

A run over one folder whose folders all kept their signatures takes its files from the last walk
(no folder gained or lost an entry). A run over the same files as the last one checks every
signature at once: the ``stat`` results become four columns, each compared with the manifest's in
one comparison, and only the rows that differ are looked at one by one. It decodes only the blocks
it serves from, each once, into one list of rules and one of errors; consecutive files of a block
are then served as one slice of each. An incremental run appends one block (the changed files),
patches the changed rows and writes the manifest again (a few hundred kilobytes, no re-encoding of
the outcomes); the store is compacted into a new file once it holds too many blocks or too much
that no file refers to.

Never stale: the signature is taken (``fstat``) before the bytes are read, so a write during the
read leaves a signature that no longer matches; a signature younger than :data:`RACY_NS` is not
trusted (a later write in the same timestamp tick could keep it), so such files are hashed on the
next run. A block is checked against its CRC-32 and must name the file at that position; the
manifest is checked against its own CRC-32 and written atomically (temporary file, then
``os.replace``); a missing, corrupt or foreign manifest or block is ignored, which only costs
compiling again.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, MutableSequence, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import getitem, ne
from pathlib import Path
from typing import Any

from soar.errors import RuleError
from soar.rules import cache_store
from soar.rules.cache_manifest import (
    CACHE_FORMAT,
    MANIFEST_NAME,
    NOWHERE,
    SIGNATURE,
    UNTRUSTED,
    Manifest,
    Signature,
    Walk,
    differing,
    load_manifest,
    save_manifest,
    signature,
    signatures,
)
from soar.rules.cache_store import BAD_BLOCK, Block, Fresh
from soar.rules.models import CompiledRule

__all__ = ["CACHE_FORMAT", "INDEX_NAME", "RACY_NS", "FileOutcome", "Hit", "RuleCache", "assemble", "trusted"]

INDEX_NAME = MANIFEST_NAME
RACY_NS = 2_000_000_000  # a signature this recent may not change on a write in the same tick
MAX_BLOCKS = 16  # compact the store beyond this many blocks
_INT64 = range(-(2**63), 2**63)

Hit = tuple[Block, int]  # a block and a file's position in it


@dataclass(slots=True)
class FileOutcome:
    """What compiling one rule file produced: its compiled rules and one error per refused rule."""

    rules: list[CompiledRule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)


class RuleCache:
    """The outcomes of compiled rule files in one cache directory, keyed by path.

    Use :meth:`files` (then :meth:`walked` if it gave None) for the run's files, :meth:`lookup` once,
    :meth:`get` for each file it did not serve, :meth:`put` for each file compiled, :func:`assemble`
    for the result, then :meth:`save` once.
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
        self._run: list[str] = []  # this run's files, in order
        self._aligned = False  # the manifest's first rows are this run's files, in order
        self._walk: Walk | None = None  # this run's walk, if it walked one folder
        self._listed: list[str] | None = None  # the files :meth:`files` gave: the manifest's first rows
        self._signed: dict[str, Signature] = {}  # files read again, unchanged: their new signature
        self._pending: dict[str, tuple[Signature, str]] = {}
        self._rows: dict[str, int] = {}  # the manifest row of each file read again (in an aligned run)
        self._fresh: dict[str, tuple[Signature, Fresh]] = {}

    def files(self, roots: list[str]) -> list[str] | None:
        """The last walk's files, if it walked this one folder and none of its folders changed since.

        Args:
            roots: The run's files and folders, spelled as ``str(Path)`` spells them.

        Returns:
            The rule files in walk order; None if the folder must be walked (then call :meth:`walked`).
        """
        walk = self._manifest.walk
        if len(roots) != 1 or roots[0] != walk.root or not walk.folders:
            return None
        if list(map(signature, walk.folders)) != walk.signatures:
            return None
        self._listed = self._manifest.paths[: walk.files]
        return self._listed

    def walked(self, root: str, folders: list[tuple[str, Signature]]) -> None:
        """Record this run's walk of the folder ``root``: every folder seen, with its signature."""
        self._walk = Walk(root, [folder for folder, _ in folders], [s for _, s in folders])

    def lookup(self, paths: list[str]) -> tuple[list[Block | None], MutableSequence[int]]:
        """Per file, the block of its cached outcome if its ``stat`` signature is unchanged, else None.

        One pass with no file read; the files given None go through :meth:`get`.

        Returns:
            Per file, its block or None, and its position in that block.
        """
        manifest, count = self._manifest, len(paths)
        self._run = paths
        self._aligned = paths is self._listed or manifest.aligned("\0".join(paths))
        if self._aligned:  # the where columns stay arrays: only compared signatures need ``int``s
            stored: list[Any] = [column[:count] for column in manifest.columns]
            stored[:SIGNATURE] = [column.tolist() for column in stored[:SIGNATURE]]
        else:
            rows = list(map(manifest.index.get, paths, repeat(-1)))
            stored = [[column[n] if n >= 0 else -1 for n in rows] for column in manifest.columns]
        changed = differing(signatures(paths), stored[:SIGNATURE])
        numbers, positions = stored[SIGNATURE:]
        blocks = {number: self._block(number) for number in set(numbers)}
        found = list(map(blocks.__getitem__, numbers))
        names: list[str | None]
        try:
            names = list(map(getitem, map(_names(blocks).__getitem__, numbers), positions))
        except IndexError:  # a position out of its block (a damaged row): file by file
            names = [_name(block, position) for block, position in zip(found, positions, strict=True)]
        if names != paths:  # a row whose block names another file at its position
            changed.update(compress(range(count), map(ne, names, paths)))
        for number in changed:
            found[number] = None
        return found, positions

    def get(self, path: str, number: int) -> Hit | bytes:
        """The cached outcome of a file whose contents are unchanged, else its bytes to compile.

        The file is read and hashed: call this for the files :meth:`lookup` did not serve.

        Args:
            path: The file, spelled as in the compiled rules and errors.
            number: Its place in the list given to :meth:`lookup`.

        Raises:
            OSError: The file cannot be read.
        """
        if self._aligned:  # the rows are the run's files, in order
            self._rows[path] = number
        else:
            found = self._manifest.index.get(path)
            number = -1 if found is None else found
        signature, data = _read(path)
        sha = hashlib.sha256(data).hexdigest()
        if number >= 0 and (hit := self._hit(path, number, sha)) is not None:
            if self._manifest.signature(number) != signature:
                self._signed[path] = signature
            return hit
        self._pending[path] = (signature, sha)
        return data

    def put(self, path: str, outcome: FileOutcome) -> None:
        """Record the outcome of a file just compiled from the bytes :meth:`get` returned."""
        signature, sha = self._pending.pop(path)
        self._fresh[path] = (signature, Fresh(path, sha, outcome.rules, outcome.errors))

    def save(self) -> None:
        """Forget deleted files, store the new outcomes and write the manifest if anything changed."""
        manifest, run = self._manifest, self._run
        extra: Sequence[int] = range(len(run), len(manifest.paths))
        if not self._aligned:
            seen = set(run)
            extra = [n for n, path in enumerate(manifest.paths) if path not in seen]
        kept = [n for n in extra if os.path.lexists(manifest.paths[n])]  # not in this run, still there
        in_place = self._aligned and len(kept) == len(extra)
        walk, self._walk = self._walk, None
        if walk is not None:
            walk.files = len(run)
            walk = None if walk == manifest.walk else walk
        if in_place and not (self._fresh or self._signed or walk):
            return  # nothing changed: a file not compiled this run is kept while it exists
        self._dir.mkdir(parents=True, exist_ok=True)
        block = self._append()
        if block is None:
            self._compact(kept)
        elif in_place:
            self._patch(block)
        else:
            self._reorder(block, kept)
        if walk is not None:
            self._manifest.walk = walk
        elif not in_place:  # the rows moved: the last walk's files are no longer the first rows
            self._manifest.walk = Walk()
        save_manifest(self._dir, self._salt, self._manifest)
        if block is None:
            cache_store.remove_stores(self._dir, keep=self._manifest.store)
        self._fresh, self._signed, self._rows = {}, {}, {}

    def _hit(self, path: str, number: int, sha: str | None = None) -> Hit | None:
        """Row ``number``'s outcome if its block is sound, names this file, and (if given) has this hash."""
        b, position = self._manifest.place(number)
        block = self._block(b)
        if block is None or not 0 <= position < len(block.paths) or block.paths[position] != path:
            return None
        if sha is not None and block.sha(position) != sha:
            return None
        return block, position

    def _block(self, number: int) -> Block | None:
        if number in self._blocks:
            return self._blocks[number]
        block, blocks = None, self._manifest.blocks
        if 0 <= number < len(blocks):
            if self._store is None:
                self._store = cache_store.read_store(self._dir, self._manifest.store) or b""
            data = cache_store.block_bytes(self._store, blocks[number])
            try:
                block = cache_store.decode_block(data) if data is not None else None
            except BAD_BLOCK:  # a damaged block: its files are compiled again
                block = None
        self._blocks[number] = block
        return block

    def _append(self) -> int | None:
        """Append this run's outcomes as one block; its number, or None if the store is due for compaction."""
        manifest = self._manifest
        stored = sum(where[3] for where in manifest.blocks)  # a block no file refers to is never read
        if not manifest.store or len(manifest.blocks) >= MAX_BLOCKS:
            return None
        if stored > 2 * len(manifest.paths) + 64:  # mostly outcomes of changed or deleted files
            return None
        if self._fresh:
            data = cache_store.encode_block([fresh for _, fresh in self._fresh.values()])
            where = cache_store.append_block(self._dir, manifest.store, data)
            if where is None:
                return None
            manifest.blocks.append([*where, len(self._fresh)])
        return len(manifest.blocks) - 1

    def _patch(self, block: int) -> None:
        """Update the rows of the files read again in place: the rows are this run's files, in order."""
        manifest, rows = self._manifest, self._rows
        for path, new in self._signed.items():
            manifest.set_row(rows[path], new)
        for position, (path, (new, _)) in enumerate(self._fresh.items()):
            manifest.set_row(rows[path], new, (block, position))

    def _reorder(self, block: int, kept: list[int]) -> None:
        """Rewrite the rows: this run's files in order, then the files kept from earlier runs."""
        manifest, index = self._manifest, self._manifest.index
        fresh = {path: n for n, path in enumerate(self._fresh)}
        signatures: list[Sequence[int]] = []
        places: list[Sequence[int]] = []
        for path in self._run:
            number = index.get(path, -1)
            if path in fresh:
                signatures.append(self._fresh[path][0])
                places.append((block, fresh[path]))
            elif number >= 0:
                signatures.append(self._signed.get(path) or manifest.signature(number))
                places.append(manifest.place(number))
            else:  # no outcome to keep: a correlation file, an unreadable one
                signatures.append(UNTRUSTED)
                places.append(NOWHERE)
        signatures += [manifest.signature(n) for n in kept]
        places += [manifest.place(n) for n in kept]
        manifest.set_rows([*self._run, *(manifest.paths[n] for n in kept)], signatures, places)

    def _compact(self, kept: list[int]) -> None:
        """Write every live outcome, in run order, into one block of a new store file."""
        manifest, index = self._manifest, self._manifest.index
        files: list[Fresh] = []
        signatures: list[Sequence[int]] = []
        places: list[Sequence[int]] = []
        paths = [*self._run, *(manifest.paths[n] for n in kept)]
        for path in paths:
            number = index.get(path, -1)
            if path in self._fresh:
                signature, fresh = self._fresh[path]
            elif number >= 0 and (hit := self._hit(path, number)) is not None:
                block, position = hit
                fresh = Fresh(path, block.sha(position), *block.outcome(position, position + 1))
                signature = self._signed.get(path) or manifest.signature(number)
            else:  # no outcome to keep: a correlation file, an unreadable or damaged one
                signatures.append(UNTRUSTED)
                places.append(NOWHERE)
                continue
            signatures.append(signature)
            places.append((0, len(files)))
            files.append(fresh)
        store, where = cache_store.write_store(self._dir, cache_store.encode_block(files))
        self._manifest = Manifest(store, [[*where, len(files)]], walk=manifest.walk)
        self._manifest.set_rows(paths, signatures, places)


def assemble(
    parts: Iterable[Block | FileOutcome | None],
    positions: Iterable[int],
    rules: list[CompiledRule],
    errors: list[RuleError],
) -> None:
    """Extend ``rules`` and ``errors`` with each part's, in order; consecutive files of a block as one slice.

    Args:
        parts: Per file, the block of its cached outcome, its fresh outcome, or None (nothing).
        positions: Per file, its position in its block (ignored for the others).
        rules: Extended with the compiled rules.
        errors: Extended with the errors.
    """
    block: Block | None = None
    first = end = 0
    for part, position in zip(parts, positions, strict=True):
        if part is block and position == end:
            end += 1  # the next file of the same block: one longer slice
            continue
        if block is not None:
            _extend(block.outcome(first, end), rules, errors)
        if isinstance(part, Block):
            block, first, end = part, position, position + 1
        else:
            block = None
            if part is not None:
                rules += part.rules
                errors += part.errors
    if block is not None:
        _extend(block.outcome(first, end), rules, errors)


def _extend(
    outcome: tuple[list[CompiledRule], list[RuleError]], rules: list[CompiledRule], errors: list[RuleError]
) -> None:
    rules += outcome[0]
    errors += outcome[1]


def trusted(st: os.stat_result) -> Signature:
    """A file's or folder's signature from its ``stat``, or :data:`UNTRUSTED` if it is too recent.

    Too recent: a write in the same timestamp tick could come after the ``stat`` and keep it.
    """
    found: Signature = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if max(st.st_mtime_ns, st.st_ctime_ns) > time.time_ns() - RACY_NS or not all(n in _INT64 for n in found):
        return UNTRUSTED
    return found


class _Nowhere:
    """Stands for a missing or damaged block: it names no file."""

    def __getitem__(self, position: int) -> None:
        return None


def _names(blocks: dict[int, Block | None]) -> dict[int, Any]:
    """Per block number, the paths of its files (a stand-in naming nothing for a missing block)."""
    nowhere = _Nowhere()
    return {number: nowhere if block is None else block.paths for number, block in blocks.items()}


def _name(block: Block | None, position: int) -> str | None:
    inside = block is not None and 0 <= position < len(block.paths)
    return block.paths[position] if block is not None and inside else None


def _read(path: str) -> tuple[Signature, bytes]:
    """The signature (taken before reading; untrusted if too recent) and bytes of a file."""
    with open(path, "rb") as handle:
        st = os.fstat(handle.fileno())
        data = handle.read()
    return trusted(st), data
