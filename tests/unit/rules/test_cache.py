"""The compile cache: cold, warm and incremental runs give the same result; stat-only reuse; safety."""

from __future__ import annotations

import gc
import os
import shutil
from array import array
from pathlib import Path
from typing import Any

import orjson
import pytest

from soar.rules import cache as cache_module
from soar.rules import cache_manifest, cache_store
from soar.rules.cache_manifest import SIGNATURE, Manifest
from soar.rules.compile import compile_rules, rule_paths
from soar.rules.loader import rule_files
from soar.rules.models import CompileResult
from tests.unit.rules.conftest import RULES, field_types

OLD = 1_600_000_000_000_000_000  # an mtime far enough in the past to trust


def _rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in RULES.glob("*.yml"):
        shutil.copy(path, rules / path.name)
    (rules / "windows.yml").write_text(
        "title: Windows\nid: 0b7c1f5e-9999-4000-8000-000000000001\n"
        "logsource:\n  product: windows\ndetection:\n  sel:\n    a: b\n  condition: sel\n",
        "utf-8",
    )
    (rules / "broken.yml").write_text("title: [unclosed\n", "utf-8")
    return rules


def _age(rules: Path) -> None:
    for path in rules.rglob("*.yml"):
        os.utime(path, ns=(OLD, OLD))


def _view(result: CompileResult) -> tuple[object, ...]:
    errors = [(str(e), e.reason, e.file, e.line, e.field, e.rule_id, e.args) for e in result.errors]
    return result.rules, result.correlations, errors


def _compile(rules: Path, cache: Path | None) -> CompileResult:
    return compile_rules([rules], cache_dir=cache, field_types=field_types)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every file the cache reads (the racy window is off: test files are all brand new)."""
    seen: list[str] = []
    read = cache_module._read

    def counted(path: str) -> tuple[tuple[int, ...], bytes]:
        seen.append(path)
        return read(path)

    monkeypatch.setattr(cache_module, "RACY_NS", 0)
    monkeypatch.setattr(cache_module, "_read", counted)
    return seen


def test_cold_warm_and_incremental_results_equal_an_uncached_compile(
    tmp_path: Path, reads: list[str]
) -> None:
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    _age(rules)
    cold = _compile(rules, cache)
    assert cold.errors, "refusals are part of the result"
    assert _view(cold) == _view(_compile(rules, None))
    reads.clear()
    warm = _compile(rules, cache)
    assert _view(warm) == _view(cold)
    assert reads == [str(rules / "correlations.yml")]  # the rest by stat alone
    assert warm.recompiled == 2
    regex = rules / "regex.yml"
    regex.write_text(regex.read_text("utf-8").replace("nikto", "nmap"), "utf-8")
    reads.clear()
    incremental = _compile(rules, cache)
    assert sorted(reads) == [str(rules / "correlations.yml"), str(regex)]
    assert _view(incremental) == _view(_compile(rules, None))
    assert _view(incremental) != _view(cold)


def test_touched_but_unchanged_file_is_hashed_and_reused(tmp_path: Path, reads: list[str]) -> None:
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    _age(rules)
    cold = _compile(rules, cache)
    os.utime(rules / "windows.yml", ns=(OLD + 10, OLD + 10))
    again = _compile(rules, cache)
    assert _view(again) == _view(cold)
    assert again.recompiled == 2  # windows.yml read, same hash: reused
    reads.clear()
    _compile(rules, cache)
    assert reads == [str(rules / "correlations.yml")]  # its new stat was recorded


def test_same_size_same_mtime_edit_is_not_served_stale(tmp_path: Path) -> None:
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    regex = rules / "regex.yml"
    _compile(rules, cache)  # brand-new files: their stat is too recent to trust
    stat = regex.stat()
    regex.write_text(regex.read_text("utf-8").replace("nikto", "nmapx"), "utf-8")
    os.utime(regex, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _view(_compile(rules, cache)) == _view(_compile(rules, None))


def test_deleted_files_disappear(tmp_path: Path) -> None:
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    _compile(rules, cache)
    (rules / "windows.yml").unlink()
    (rules / "broken.yml").unlink()
    after = _compile(rules, cache)
    assert _view(after) == _view(_compile(rules, None))
    assert not any("windows.yml" in str(e) or "broken.yml" in str(e) for e in after.errors)
    assert b"windows.yml" not in (cache / cache_module.INDEX_NAME).read_bytes()


@pytest.mark.parametrize(
    "index",
    [
        b"",
        b"{not json",
        b"[]",
        b'{"format": "5", "salt": "other", "paths": [], "signatures": [], "where": []}',
        cache_manifest.MAGIC,
        cache_manifest.MAGIC + b"\0" * 8 + b"{}\n",
    ],
)
def test_corrupt_or_foreign_index_means_a_full_compile(tmp_path: Path, index: bytes) -> None:
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    first = _compile(rules, cache)
    (cache / cache_module.INDEX_NAME).write_bytes(index)
    again = _compile(rules, cache)
    assert again.recompiled == first.recompiled
    assert _view(again) == _view(first)


@pytest.mark.parametrize("damage", ["flipped", "truncated", "longer", "other salt"])
def test_a_damaged_manifest_means_a_full_compile(tmp_path: Path, damage: str) -> None:
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    _age(rules)
    first = _compile(rules, cache)
    index = cache / cache_module.INDEX_NAME
    data = index.read_bytes()
    if damage == "flipped":  # a bit of the last inode: only the CRC can tell
        at = len(data) - 8 * 2 * len(_manifest(cache)[1].paths) - 4
        index.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :])
    elif damage == "truncated":
        index.write_bytes(data[:-8])
    elif damage == "longer":
        index.write_bytes(data + b"\0" * 8)
    else:
        salt, manifest = _manifest(cache)
        cache_manifest.save_manifest(cache, "0" * len(salt), manifest)
    again = _compile(rules, cache)
    assert again.recompiled == first.recompiled  # nothing served: every file compiled again
    assert _view(again) == _view(first)


def _store(cache: Path) -> Path:
    (store,) = cache.glob(f"{cache_store.STORE_PREFIX}*")
    return store


def _manifest(cache: Path) -> tuple[str, Manifest]:
    """The cache's manifest and its salt (read from its header, so any salt is accepted)."""
    data = (cache / cache_module.INDEX_NAME).read_bytes()
    head = len(cache_manifest.MAGIC) + 8
    salt: str = orjson.loads(data[head : data.index(b"\n", head)])["salt"]
    manifest = cache_manifest.decode_manifest(data, salt)
    assert manifest is not None
    return salt, manifest


def _rewrite(cache: Path, damage: Any) -> None:
    """Damage the manifest's contents but write it whole, with a sound CRC."""
    salt, manifest = _manifest(cache)
    damage(manifest)
    cache_manifest.save_manifest(cache, salt, manifest)


def test_damaged_entries_are_compiled_again(tmp_path: Path) -> None:
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    first = _compile(rules, cache)
    store = _store(cache)
    store.write_bytes(store.read_bytes().replace(b'"source":"envoy"', b'"source":"nowhere"'))
    again = _compile(rules, cache)
    assert _view(again) == _view(first)
    assert again.recompiled == first.recompiled  # the block failed its check: every file compiled


def _damage_where(manifest: Manifest) -> None:
    positions = manifest.columns[SIGNATURE + 1]
    positions[0], positions[1] = positions[1], positions[0]


def _damage_signatures(manifest: Manifest) -> None:
    for column in manifest.columns[:SIGNATURE]:
        column[:] = array("q", [0] * len(column))


def _damage_blocks(manifest: Manifest) -> None:
    manifest.blocks[0][2] ^= 1  # the CRC


def _damage_block_numbers(manifest: Manifest) -> None:
    manifest.columns[SIGNATURE][:] = array("q", [7] * len(manifest.paths))


def _damage_positions(manifest: Manifest) -> None:
    manifest.columns[SIGNATURE + 1][:] = array("q", [-1] * len(manifest.paths))


@pytest.mark.parametrize(
    "damage",
    [_damage_where, _damage_signatures, _damage_blocks, _damage_block_numbers, _damage_positions],
)
def test_each_damaged_manifest_part_is_never_served(tmp_path: Path, damage: Any) -> None:
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    _age(rules)
    first = _compile(rules, cache)
    _rewrite(cache, damage)
    assert _view(_compile(rules, cache)) == _view(first)
    assert _view(_compile(rules, cache)) == _view(first)  # and the cache is sound again


@pytest.mark.parametrize("damage", ["truncated", "missing", "flipped", "torn append"])
def test_a_damaged_store_is_never_served(tmp_path: Path, damage: str) -> None:
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    _age(rules)
    first = _compile(rules, cache)
    store = _store(cache)
    data = store.read_bytes()
    if damage == "truncated":
        store.write_bytes(data[: len(data) // 2])
    elif damage == "missing":
        store.unlink()
    elif damage == "flipped":
        store.write_bytes(data[:40] + bytes([data[40] ^ 1]) + data[41:])
    else:  # a crash while appending leaves bytes no manifest refers to
        store.write_bytes(data + b'{"paths":["half')
    assert _view(_compile(rules, cache)) == _view(first)
    regex = rules / "regex.yml"
    regex.write_text(regex.read_text("utf-8").replace("nikto", "nmap"), "utf-8")
    assert _view(_compile(rules, cache)) == _view(_compile(rules, None))


def test_incremental_runs_append_blocks_until_compaction(tmp_path: Path, reads: list[str]) -> None:
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    _age(rules)
    _compile(rules, cache)
    regex = rules / "regex.yml"
    stores = set()
    for run in range(cache_module.MAX_BLOCKS + 2):
        regex.write_text(regex.read_text("utf-8").replace("nikto", f"nikto{run}"), "utf-8")
        reads.clear()
        result = _compile(rules, cache)
        assert sorted(reads) == [str(rules / "correlations.yml"), str(regex)]
        assert _view(result) == _view(_compile(rules, None))
        stores.add(_store(cache).name)
        assert 1 <= len(_manifest(cache)[1].blocks) <= cache_module.MAX_BLOCKS
    assert len(stores) == 2  # compacted once, into a new store file; the old one is gone


def test_a_row_pointing_at_another_files_outcome_is_not_served(tmp_path: Path) -> None:
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    _age(rules)
    first = _compile(rules, cache)

    def first_place(manifest: Manifest) -> None:  # every file at the first one's place
        for column in manifest.columns[SIGNATURE:]:
            column[:] = array("q", [column[0]] * len(column))

    _rewrite(cache, first_place)
    assert _view(_compile(rules, cache)) == _view(first)


def test_index_is_written_atomically(tmp_path: Path) -> None:
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    _compile(rules, cache)
    names = sorted(p.name for p in cache.iterdir())
    assert names[0] == cache_module.INDEX_NAME
    assert len(names) == 2
    assert names[1].startswith(cache_store.STORE_PREFIX)


def test_rule_paths_matches_rule_files(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    (rules / ".hidden").mkdir()
    (rules / ".hidden" / "a.yaml").write_text("x: 1\n", "utf-8")
    (rules / "sub-dir").mkdir()
    (rules / "sub-dir" / "b.yml").write_text("x: 1\n", "utf-8")
    (rules / ".yml").write_text("x: 1\n", "utf-8")
    (rules / "notes.txt").write_text("x\n", "utf-8")
    (rules / "linked").symlink_to(rules / "sub-dir")
    (rules / "link.yml").symlink_to(rules / "sub-dir" / "b.yml")
    for name in ("sub", "sub-dir/sub"):  # a folder sorts before its name with a suffix or dash
        (rules / name).mkdir()
        for leaf in ("z.yml", "a.yaml"):
            (rules / name / leaf).write_text("x: 1\n", "utf-8")
    for name in ("sub.yml", "sub-a.yml", "sub0.yml", "Sub.yml", "sub-dir/sub.yml"):
        (rules / name).write_text("x: 1\n", "utf-8")
    for args in ([rules], [rules, rules / "regex.yml", tmp_path / "absent.yml"], [f"{rules}/"]):
        assert rule_paths(args) == [str(p) for p in rule_files(args)]


@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize("enabled", [True, False])
def test_a_cached_run_leaves_the_garbage_collector_as_it_found_it(
    tmp_path: Path, enabled: bool, frozen: bool
) -> None:
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    _compile(rules, cache)
    was_enabled, was_frozen = gc.isenabled(), gc.get_freeze_count()
    try:
        if frozen:
            gc.freeze()  # a program's own frozen objects (a pre-fork server's) stay frozen
        frozen_count = gc.get_freeze_count()
        (gc.enable if enabled else gc.disable)()
        assert _view(_compile(rules, cache)) == _view(_compile(rules, None))
        assert gc.isenabled() is enabled
        assert gc.get_freeze_count() == frozen_count
    finally:
        if frozen and not was_frozen:
            gc.unfreeze()
        (gc.enable if was_enabled else gc.disable)()
