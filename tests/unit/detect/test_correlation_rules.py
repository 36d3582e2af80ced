"""Correlations as the sweep sees them: groups, generate, range conditions, pruning, alert ids and documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from soar.detect.correlate import candidates, to_ms
from soar.detect.group_events import Bucket, Groups
from soar.detect.models import Window
from soar.detect.ruleset import correlation_group, parts_only, sweep_groups
from soar.detect.sequences import Bound, Event, SequenceSpec
from soar.detect.settings import RuleOptions
from soar.detect.signals import Signal, SignalContext, SignalRule, group_key_id, signal_document, signal_id
from soar.rules.compile import compile_rules

DETECTIONS = Path(__file__).resolve().parents[3] / "detections"

BASE = """title: {name}
id: {id}
name: {name}
status: test
logsource:
  product: {product}
  service: {service}
detection:
  selection:
    event.action: x
  condition: selection
level: {level}
"""


def _rule(folder: Path, name: str, number: int, product: str = "okta", level: str = "high") -> None:
    service = {"okta": "okta", "kubernetes": "audit"}[product]
    text = BASE.format(
        name=name, id=f"22222222-0000-4000-8000-{number:012d}", product=product, service=service, level=level
    )
    (folder / f"{name}.yml").write_text(text, "utf-8")


def _correlation(folder: Path, name: str, number: int, rules: list[str], extra: str = "") -> None:
    text = (
        f"title: {name}\nid: 22222222-1111-4000-8000-{number:012d}\nstatus: test\nlevel: high\ncorrelation:\n"
        f"  type: temporal\n  rules: [{', '.join(rules)}]\n  timespan: 1h\n{extra}"
    )
    (folder / f"{name}.yml").write_text(text, "utf-8")


def test_parts_of_a_non_generating_correlation_write_no_alerts_and_cross_source_gets_its_own_group(
    tmp_path: Path,
) -> None:
    _rule(tmp_path, "a", 1)
    _rule(tmp_path, "b", 2)
    _rule(tmp_path, "c", 3, "kubernetes")
    _rule(tmp_path, "d", 4)
    _correlation(tmp_path, "quiet", 1, ["a", "b"])
    _correlation(tmp_path, "loud", 2, ["b", "c"], "  generate: true\n")
    compiled = compile_rules([tmp_path])
    assert compiled.errors == []
    ids = {r.name: r.rule_id for r in compiled.rules}
    # As pySigma: one correlation with generate: false is enough to silence a rule.
    assert parts_only(compiled.correlations) == {ids["a"], ids["b"]}
    groups = sweep_groups(compiled)
    assert list(groups) == ["kubernetes", "kubernetes+okta", "okta"]
    assert [r.rule_id for r in groups["okta"]] == [ids["d"], "22222222-1111-4000-8000-000000000001"]
    assert [r.rule_id for r in groups["kubernetes"]] == [ids["c"]]
    [loud] = groups["kubernetes+okta"]
    assert correlation_group(loud) == "kubernetes+okta"  # type: ignore[arg-type]


def test_the_content_pack_groups() -> None:
    groups = sweep_groups(compile_rules([DETECTIONS]))
    assert {"envoy+keycloak", "envoy+kubernetes"} <= set(groups)
    assert sum(len(members) for members in groups.values()) == 63


def test_a_range_condition_keeps_both_bounds(tmp_path: Path) -> None:
    _rule(tmp_path, "a", 1)
    (tmp_path / "range.yml").write_text(
        "title: r\nid: 22222222-2222-4000-8000-000000000001\nstatus: test\nlevel: low\ncorrelation:\n"
        "  type: event_count\n  rules: [a]\n  group-by: [source.ip]\n  timespan: 10m\n"
        "  condition:\n    gt: 100\n    lte: 200\n",
        "utf-8",
    )
    compiled = compile_rules([tmp_path])
    assert compiled.errors == []
    [correlation] = compiled.correlations
    assert correlation.condition is not None
    assert [(b.op, b.count) for b in correlation.condition.bounds] == [("gt", 100), ("lte", 200)]


def test_the_lock_form_of_a_single_bound_has_no_range_key() -> None:
    [correlation, *_] = compile_rules([DETECTIONS]).correlations
    assert correlation.condition is not None
    assert "also" not in correlation.condition.model_dump()


def _groups(**counts: tuple[int, int]) -> Groups:
    groups = Groups()
    for key, (docs, distinct) in counts.items():
        groups.parts[(key,)] = {0: Bucket((key,), docs, distinct, [])}
    return groups


def test_growing_conditions_prune_groups_that_cannot_match_and_others_keep_all() -> None:
    groups = _groups(few=(3, 3), many=(9, 2), near=(4, 4), wide=(9, 9))
    count = SequenceSpec("event_count", 1, 60_000, (Bound("gte", 5),))
    assert sorted(candidates(count, groups)) == [("many",), ("wide",)]
    distinct = SequenceSpec("value_count", 1, 60_000, (Bound("gte", 5),))
    # cardinality is approximate by contract: a group just below the need is still read
    assert sorted(candidates(distinct, groups)) == [("near",), ("wide",)]
    below = SequenceSpec("event_count", 1, 60_000, (Bound("lt", 5),))
    assert len(candidates(below, groups)) == 4


def test_milliseconds_are_exact() -> None:
    moment = datetime(2026, 11, 23, 10, 0, 0, 999_999, tzinfo=UTC)
    assert to_ms(moment) == 1_795_428_000_999
    assert to_ms(moment + timedelta(microseconds=1)) == 1_795_428_001_000


def test_alert_ids_depend_on_rule_group_and_first_event_only() -> None:
    first = signal_id("r", ('"1.2.3.4"',), "logs/a")
    assert first == signal_id("r", ('"1.2.3.4"',), "logs/a")
    assert (
        len({first, signal_id("r", ('"1.2.3.5"',), "logs/a"), signal_id("r", ('"1.2.3.4"',), "logs/b")}) == 3
    )
    assert group_key_id("r", ("x",)) != group_key_id("q", ("x",))


def test_signal_document_puts_group_values_at_their_ecs_paths() -> None:
    rule = SignalRule(
        "r1",
        "Burst",
        "informational",
        "2026-11-23",
        "h",
        ["attack.t1110"],
        "logs-okta-*",
        {},
        "event_count",
        RuleOptions(),
    )
    event = Event(1_795_428_000_000, "logs-okta-default", "d1")
    signal = Signal(
        uid="u1",
        key=("1.2.3.4", "alice"),
        group_fields=["source.ip", "user.name"],
        decided=event.time + 5,
        first=event.time,
        last=event.time + 5,
        count=2,
        sources=[("logs-okta-default", "d1"), ("logs-okta-default", "d2")],
        reason="Burst: 2 events",
    )
    start = datetime(2026, 11, 23, tzinfo=UTC)
    ctx = SignalContext(rule, "okta", "run", Window(start=start, end=start + timedelta(hours=1)), start)
    doc = signal_document(ctx, signal)
    assert doc["source"] == {"ip": "1.2.3.4"}
    assert doc["user"] == {"name": "alice"}
    alert = doc["soar"]["alert"]
    assert alert["source"] == {"index": "logs-okta-default", "id": "d1"}
    assert alert["group"]["values"] == {"source.ip": "1.2.3.4", "user.name": "alice"}
    assert alert["group"]["id"] == group_key_id("r1", ("1.2.3.4", "alice"))
    assert (alert["building_block"], alert["severity"], alert["threat"]["technique"]) == (
        True,
        "informational",
        ["T1110"],
    )
    assert alert["correlation"]["sources_total"] == 2
    assert alert["original_time"] == "2026-11-23T10:00:00.000Z"
