"""compile_rules: the content-hash cache, compiled metadata, correlations, and leaves per field type."""

from __future__ import annotations

import shutil
from pathlib import Path

from sigma.types import SigmaString

from soar.rules import dsl
from soar.rules.compile import compile_rules, default_cache_dir
from soar.telemetry.sources import Source
from tests.unit.rules.conftest import RULES, field_types


def _copy_fixtures(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in RULES.glob("*.yml"):
        shutil.copy(path, rules / path.name)
    return rules


def test_incremental_rebuild_recompiles_only_the_changed_rule(tmp_path: Path) -> None:
    rules = _copy_fixtures(tmp_path)
    cache = default_cache_dir(tmp_path / "data")
    first = compile_rules([rules], cache_dir=cache, field_types=field_types)
    assert first.errors == []
    assert first.recompiled == 12
    again = compile_rules([rules], cache_dir=cache, field_types=field_types)
    assert again.recompiled == 2  # correlations.yml is never cached: its correlations need the others
    assert [r.content_hash for r in again.rules] == [r.content_hash for r in first.rules]
    regex = rules / "regex.yml"
    regex.write_text(regex.read_text("utf-8").replace("nikto", "nmap"), "utf-8")
    changed = compile_rules([rules], cache_dir=cache, field_types=field_types)
    assert changed.recompiled == 3
    before = {r.rule_id: r.content_hash for r in first.rules}
    after = {r.rule_id: r.content_hash for r in changed.rules}
    assert {k for k in before if before[k] != after[k]} == {"0b7c1f5e-1111-4000-8000-000000000003"}


def test_changed_field_types_invalidate_the_cache(tmp_path: Path) -> None:
    rules = _copy_fixtures(tmp_path)
    cache = tmp_path / "cache"
    compile_rules([rules], cache_dir=cache, field_types=field_types)

    def other(source: Source) -> dict[str, str]:
        return {**field_types(source), "url.path": "wildcard"}

    assert compile_rules([rules], cache_dir=cache, field_types=other).recompiled == 12


def test_compiled_rule_metadata() -> None:
    result = compile_rules([RULES / "strings.yml"], field_types=field_types)
    (rule,) = result.rules
    assert rule.rule_id == "0b7c1f5e-1111-4000-8000-000000000001"
    assert rule.source is Source.ENVOY
    assert rule.index == "logs-envoy.access-*"
    assert rule.level == "medium"
    assert rule.version == "2026-02-01"
    assert rule.tags == ["attack.initial-access", "attack.t1190"]
    assert rule.path.endswith("strings.yml")
    assert len(rule.content_hash) == 64


def test_correlations_resolve_by_id_and_name() -> None:
    result = compile_rules([RULES / "correlations.yml"], field_types=field_types)
    assert result.errors == []
    spray, many, ordered = result.correlations
    assert spray.type == "event_count"
    assert spray.timespan_seconds == 600
    assert spray.condition is not None
    assert (spray.condition.op, spray.condition.count) == ("gte", 20)
    assert [r.name for r in spray.rules] == ["keycloak_failed_login"]
    assert many.condition is not None
    assert many.condition.field == "user.name"
    assert ordered.type == "temporal_ordered"
    assert ordered.condition is not None  # pySigma's default: every referenced rule matched
    assert (ordered.condition.op, ordered.condition.count) == ("gte", 2)
    assert ordered.group_by_fields == {r.rule_id: ["user.name"] for r in ordered.rules}


def test_correlation_with_unknown_rule_is_an_error(tmp_path: Path) -> None:
    text = (RULES / "correlations.yml").read_text("utf-8").replace("- keycloak_login", "- nope")
    (tmp_path / "c.yml").write_text(text, "utf-8")
    result = compile_rules([tmp_path], field_types=field_types)
    assert len(result.correlations) == 2
    (error,) = result.errors
    assert error.rule_id == "0b7c1f5e-1111-4000-8000-00000000000f"
    assert "nope" in error.reason


def test_text_field_uses_keyword_subfield_when_mapped() -> None:
    types = {"x": "text", "x.keyword": "keyword", "y": "match_only_text"}
    assert dsl.field_type(types, "x.keyword") == "keyword"
    assert dsl.text_string("y", SigmaString("*a b*")) == {"match_phrase": {"y": {"query": "a b"}}}


def test_flattened_subfields_and_literal_wildcards() -> None:
    assert dsl.field_type({"a.obj": "flattened"}, "a.obj.k.j") == "flattened"
    assert dsl.field_type({"a.obj": "object"}, "a.obj.k") is None
    query = dsl.keyword_string("f", SigmaString(r"*a\*b\?c\\d*"), cased=True)
    assert query == {"wildcard": {"f": {"value": "*a\\*b\\?c\\\\d*"}}}


def test_regex_on_a_flattened_subfield_is_refused(tmp_path: Path) -> None:
    text = (RULES / "okta_sigmahq.yml").read_text("utf-8")
    text = text.replace("requestUri|contains: /api/v1/users", "requestUri|re: '^/api/v1/users'")
    (tmp_path / "r.yml").write_text(text, "utf-8")
    (error,) = compile_rules([tmp_path], field_types=field_types).errors
    assert error.field == "debugContext.debugData.requestUri"
    assert error.line == 21
    assert "flattened" in error.reason
