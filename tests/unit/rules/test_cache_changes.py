"""The compile cache after each kind of change: every run equals an uncached compile, and folders reuse the walk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from soar.rules import cache as cache_module
from soar.rules.cache import RuleCache
from soar.rules.compile import _salt, compile_rules
from tests.unit.rules.conftest import field_types
from tests.unit.rules.test_cache import OLD, _compile, _rules, _view

KUBERNETES = """title: Secret read {n}
id: 0b7c1f5e-9999-4000-8000-00000000010{n}
logsource:
  product: kubernetes
  service: audit
detection:
  sel:
    verb: get
    objectRef.resource: secrets{n}
  condition: sel
level: high
"""


@pytest.fixture
def trusting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust brand-new signatures: every file and folder below is aged, so a change moves its mtime."""
    monkeypatch.setattr(cache_module, "RACY_NS", 0)


def _tree(tmp_path: Path) -> Path:
    rules = _rules(tmp_path)
    (rules / "sub").mkdir()
    for n in (1, 2):
        (rules / "sub" / f"k{n}.yml").write_text(KUBERNETES.format(n=n), "utf-8")
    _age(rules)
    return rules


def _age(rules: Path) -> None:
    """An old mtime on every file and folder: the next change to any of them moves it."""
    for path in [*rules.rglob("*"), rules]:
        os.utime(path, ns=(OLD, OLD), follow_symlinks=False)


def _walk_reused(rules: Path, cache: Path) -> bool:
    """Whether a run now would take its files from the last walk instead of walking again."""
    return RuleCache(cache, _salt(field_types)).files([str(rules)]) is not None


def _same_as_uncached(rules: Path | list[Path], cache: Path) -> None:
    roots = rules if isinstance(rules, list) else [rules]
    cached = compile_rules(roots, cache_dir=cache, field_types=field_types)
    assert _view(cached) == _view(compile_rules(roots, field_types=field_types))


@pytest.mark.usefixtures("trusting")
def test_an_unchanged_tree_reuses_the_walk_and_a_changed_rule_is_compiled_again(tmp_path: Path) -> None:
    rules, cache = _tree(tmp_path), tmp_path / "cache"
    _same_as_uncached(rules, cache)
    assert _walk_reused(rules, cache)
    k1 = rules / "sub" / "k1.yml"
    k1.write_text(k1.read_text("utf-8").replace("secrets1", "configmaps"), "utf-8")
    assert _walk_reused(rules, cache)  # an edit in place changes no folder
    result = compile_rules([rules], cache_dir=cache, field_types=field_types)
    assert result.recompiled == 2 + 1  # correlations.yml holds two rules; then k1.yml
    assert _view(result) == _view(compile_rules([rules], field_types=field_types))
    assert any(rule.query and "configmaps" in str(rule.query) for rule in result.rules)


@pytest.mark.usefixtures("trusting")
@pytest.mark.parametrize("change", ["added", "removed", "renamed", "new folder", "folder removed"])
def test_a_changed_file_set_is_walked_again(tmp_path: Path, change: str) -> None:
    rules, cache = _tree(tmp_path), tmp_path / "cache"
    _same_as_uncached(rules, cache)
    sub = rules / "sub"
    if change == "added":
        (sub / "k3.yml").write_text(KUBERNETES.format(n=3), "utf-8")
    elif change == "removed":
        (sub / "k2.yml").unlink()
    elif change == "renamed":
        (sub / "k2.yml").rename(sub / "k0.yml")  # sorts first now: the order changes too
    elif change == "new folder":
        (sub / "deeper").mkdir()
        (sub / "deeper" / "k4.yml").write_text(KUBERNETES.format(n=4), "utf-8")
    else:
        for path in sub.iterdir():
            path.unlink()
        sub.rmdir()
    assert not _walk_reused(rules, cache)
    _same_as_uncached(rules, cache)
    assert _walk_reused(rules, cache)  # the new walk is recorded
    _same_as_uncached(rules, cache)


@pytest.mark.usefixtures("trusting")
def test_a_size_change_under_an_unchanged_mtime_is_seen(tmp_path: Path) -> None:
    rules, cache = _tree(tmp_path), tmp_path / "cache"
    _same_as_uncached(rules, cache)
    k1 = rules / "sub" / "k1.yml"
    k1.write_text(k1.read_text("utf-8").replace("secrets1", "secrets-and-more"), "utf-8")
    os.utime(k1, ns=(OLD, OLD))  # the mtime is back; the size (and ctime) moved
    result = compile_rules([rules], cache_dir=cache, field_types=field_types)
    assert _view(result) == _view(compile_rules([rules], field_types=field_types))
    assert any("secrets-and-more" in str(rule.query) for rule in result.rules)


@pytest.mark.usefixtures("trusting")
def test_a_symbolic_link_named_like_a_rule_means_walking_each_time(tmp_path: Path) -> None:
    rules, cache = _tree(tmp_path), tmp_path / "cache"
    target = tmp_path / "target.yml"
    target.write_text(KUBERNETES.format(n=5), "utf-8")
    (rules / "sub" / "link.yml").symlink_to(target)
    _age(rules)
    _same_as_uncached(rules, cache)
    assert not _walk_reused(rules, cache)  # its target can change with no folder changing
    target.unlink()
    target.mkdir()  # the link now names a folder: not a rule file any more
    _same_as_uncached(rules, cache)
    assert not any("link.yml" in str(e) for e in compile_rules([rules], cache_dir=cache).errors)


@pytest.mark.usefixtures("trusting")
def test_other_roots_in_between_never_leave_a_stale_walk(tmp_path: Path) -> None:
    rules, cache = _tree(tmp_path), tmp_path / "cache"
    other = tmp_path / "other"
    other.mkdir()
    (other / "k9.yml").write_text(KUBERNETES.format(n=9), "utf-8")
    for roots in ([rules], [other], [rules, other / "k9.yml"], [rules], [rules / "sub"], [rules]):
        _same_as_uncached(roots, cache)
        _same_as_uncached(roots, cache)


def test_brand_new_folders_are_walked_again(tmp_path: Path) -> None:
    rules, cache = _rules(tmp_path), tmp_path / "cache"  # just made: too recent to trust
    _compile(rules, cache)
    assert not _walk_reused(rules, cache)
    assert _view(_compile(rules, cache)) == _view(_compile(rules, None))
