"""The rule lock file: a content hash of each rule's compiled query, so a changed query needs a version bump.

``detections/rules.lock.json`` maps rule id -> ``{"version": ..., "hash": ...}``. The version is the
rule's Sigma ``modified`` date (``date`` when absent); the hash covers what runs (query and index, or
a correlation's type, window, grouping, condition and its rules' hashes), not titles or descriptions.
A rule whose hash changed while its version did not is *stale*: ``soar rules test`` fails it until
the rule's ``modified`` date moves and ``soar rules lock`` rewrites the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from soar.errors import RuleError
from soar.rules.models import CompiledCorrelation, CompiledRule, content_hash

LOCK_FILE = "rules.lock.json"
AnyCompiled = CompiledRule | CompiledCorrelation


class LockEntry(BaseModel):
    """What the lock file remembers of one rule."""

    model_config = ConfigDict(frozen=True)

    version: str | None
    hash: str


class LockStatus(StrEnum):
    """How a compiled rule compares with its lock entry."""

    LOCKED = "locked"  # same hash
    BUMPED = "bumped"  # hash and version changed: fine, the lock file needs rewriting
    STALE = "stale"  # hash changed, version did not: a failure
    NEW = "new"  # not in the lock file: a failure while a lock file exists
    UNCHECKED = "unchecked"  # there is no lock file


FAILING = frozenset({LockStatus.STALE, LockStatus.NEW})


def query_hash(rule: AnyCompiled) -> str:
    """The content hash of what a rule runs (its compiled query), independent of its wording."""
    if isinstance(rule, CompiledRule):
        return content_hash({"index": rule.index, "query": rule.query})
    return content_hash(
        {
            "type": rule.type,
            "timespan_seconds": rule.timespan_seconds,
            "group_by_fields": rule.group_by_fields,
            "condition": rule.condition.model_dump() if rule.condition else None,
            "rules": [query_hash(r) for r in rule.rules],
        }
    )


def lock_entries(rules: Iterable[AnyCompiled]) -> dict[str, LockEntry]:
    """The lock entries of compiled rules and correlations, sorted by rule id."""
    entries = {rule.rule_id: LockEntry(version=rule.version, hash=query_hash(rule)) for rule in rules}
    return dict(sorted(entries.items()))


def read_lock(path: Path) -> dict[str, LockEntry] | None:
    """The entries of a lock file, or None when there is none.

    Raises:
        RuleError: The file exists but is not a valid lock file.
    """
    try:
        raw = json.loads(path.read_text("utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("expected an object of rule id -> {version, hash}")
        return {str(key): LockEntry.model_validate(value) for key, value in raw.items()}
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RuleError(f"cannot read the lock file: {exc.strerror}", file=str(path)) from None
    except (ValueError, ValidationError) as exc:
        reason = str(exc).splitlines()[0]
        raise RuleError(f"invalid lock file: {reason}", file=str(path)) from None


def write_lock(path: Path, entries: dict[str, LockEntry]) -> None:
    """Write the lock file (sorted, one entry per line group, stable for diffs)."""
    data = {key: entry.model_dump() for key, entry in sorted(entries.items())}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")


def lock_status(lock: dict[str, LockEntry] | None, rule: AnyCompiled) -> LockStatus:
    """Compare a compiled rule with the lock file's entry for it."""
    if lock is None:
        return LockStatus.UNCHECKED
    entry = lock.get(rule.rule_id)
    if entry is None:
        return LockStatus.NEW
    if entry.hash == query_hash(rule):
        return LockStatus.LOCKED
    return LockStatus.BUMPED if entry.version != rule.version else LockStatus.STALE


def lock_problem(status: LockStatus) -> str | None:
    """Why a lock status fails a rule, or None when it does not."""
    if status is LockStatus.STALE:
        return "the compiled query changed but the version (modified date) did not: bump it, then soar rules lock"
    if status is LockStatus.NEW:
        return "not in the lock file: run soar rules lock"
    return None
