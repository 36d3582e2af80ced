"""The lock file: a changed query needs a version bump; every content rule is checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soar.errors import RuleError
from soar.rules.compile import compile_rules
from soar.rules.lock import (
    LOCK_FILE,
    LockEntry,
    LockStatus,
    lock_entries,
    lock_problem,
    lock_status,
    query_hash,
    read_lock,
    write_lock,
)
from soar.rules.models import CompiledRule
from tests.conftest import REPO
from tests.unit.rules.conftest import RULES, field_types

DETECTIONS = REPO / "detections"


def _rule() -> CompiledRule:
    return compile_rules([RULES / "scalars.yml"], field_types=field_types).rules[0]


def test_hash_covers_the_query_not_the_wording() -> None:
    rule = _rule()
    reworded = rule.model_copy(update={"title": "other", "description": "other"})
    changed = rule.model_copy(update={"query": {"match_all": {}}})
    assert query_hash(reworded) == query_hash(rule)
    assert query_hash(changed) != query_hash(rule)


def test_statuses() -> None:
    rule = _rule()
    lock = lock_entries([rule])
    changed = rule.model_copy(update={"query": {"match_all": {}}})
    bumped = changed.model_copy(update={"version": "2099-01-01"})
    assert lock_status(None, rule) is LockStatus.UNCHECKED
    assert lock_status({}, rule) is LockStatus.NEW
    assert lock_status(lock, rule) is LockStatus.LOCKED
    assert lock_status(lock, changed) is LockStatus.STALE
    assert lock_status(lock, bumped) is LockStatus.BUMPED
    assert lock_problem(LockStatus.BUMPED) is None
    assert "modified" in (lock_problem(LockStatus.STALE) or "")


def test_correlation_hash_follows_its_rules() -> None:
    result = compile_rules([RULES / "correlations.yml"], field_types=field_types)
    correlation = result.correlations[0]
    other = correlation.model_copy(
        update={"rules": [r.model_copy(update={"query": {}}) for r in correlation.rules]}
    )
    assert query_hash(other) != query_hash(correlation)


def test_round_trip_and_bad_files(tmp_path: Path) -> None:
    path = tmp_path / LOCK_FILE
    assert read_lock(path) is None
    entries = {"b": LockEntry(version="2026-01-01", hash="x"), "a": LockEntry(version=None, hash="y")}
    write_lock(path, entries)
    assert list(json.loads(path.read_text("utf-8"))) == ["a", "b"]
    assert read_lock(path) == entries
    path.write_text('{"a": {"hash": 1}}', "utf-8")
    with pytest.raises(RuleError, match="invalid lock file"):
        read_lock(path)


@pytest.mark.skipif(
    not (DETECTIONS / LOCK_FILE).is_file(), reason="detections/rules.lock.json not written yet"
)
def test_every_content_rule_is_locked_or_bumped() -> None:
    result = compile_rules([DETECTIONS])
    lock = read_lock(DETECTIONS / LOCK_FILE)
    problems = [
        f"{rule.path}: {rule.rule_id}: {lock_problem(status)}"
        for rule in [*result.rules, *result.correlations]
        if lock_problem(status := lock_status(lock, rule))
    ]
    assert not problems, "\n".join(problems)
