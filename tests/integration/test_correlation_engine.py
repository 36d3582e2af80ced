"""Correlations, thresholds, new terms and flatlines executed on the embedded engine over chosen sweep windows."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soar.config import Settings
from soar.detect.alerts import alerts_index
from soar.detect.checkpoints import ensure_indices
from soar.detect.execute import search_window
from soar.detect.models import RuleWindow, RuleWindowResult, SearchWindowInput, Window
from soar.detect.ruleset import detect_rule, with_exceptions
from soar.detect.settings import RuleOptions
from soar.engines.search import SearchClient
from soar.rules.compile import compile_rules
from tests.integration.correlation_data import DETECTIONS, OKTA_RULES, aligned, ingest_okta, minutes, okta

pytestmark = pytest.mark.engines

FAILED = "user.session.start"
HEADER = "status: test\nlevel: high\n"
OKTA = "logsource:\n  product: okta\n  service: okta\n"


def _rule_id(name: str) -> str:
    return "0c0e1a7e-0000-4000-8000-" + hashlib.sha256(name.encode()).hexdigest()[:12]


def _correlation(name: str, body: str) -> str:
    return f"title: {name}\nid: {_rule_id(name)}\nname: {name}\n{HEADER}correlation:\n{body}"


RULES = {
    "burst": _correlation(
        "burst",
        "  type: event_count\n  rules: [okta_sign_in_failed]\n  group-by: [source.ip]\n  timespan: 10m\n"
        "  condition: {gte: 5}\n",
    ),
    "anywhere": _correlation(
        "anywhere",
        "  type: event_count\n  rules: [okta_sign_in_failed]\n  timespan: 10m\n  condition: {gte: 5}\n",
    ),
    "spray": _correlation(
        "spray",
        "  type: value_count\n  rules: [okta_sign_in_failed]\n  group-by: [source.ip]\n  timespan: 10m\n"
        "  condition: {field: user.name, gte: 3}\n",
    ),
    "ordered": _correlation(
        "ordered",
        "  type: temporal_ordered\n  rules: [okta_mfa_factor_reset, okta_admin_privilege_granted]\n"
        "  group-by: [user.name]\n  timespan: 1h\n",
    ),
    "unordered": _correlation(
        "unordered",
        "  type: temporal\n  rules: [okta_mfa_factor_reset, okta_admin_privilege_granted]\n"
        "  group-by: [user.name]\n  timespan: 1h\n  generate: true\n",
    ),
}
KINDS = {
    "threshold": "soar:\n  threshold: {field: user.name, count: 4, timespan: 10m}\n",
    "new_terms": "soar:\n  new_terms: {fields: [user.name, source.ip], history: 1h}\n",
    "flatline": "soar:\n  flatline: {timespan: 15m}\n",
}


def _kind_rule(kind: str) -> str:
    return (
        f"title: okta {kind}\nid: {_rule_id(kind)}\n{HEADER}{OKTA}"
        f"detection:\n  selection:\n    event.action: {FAILED}\n  condition: selection\n{KINDS[kind]}"
    )


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every test rule compiled with its options, by name."""
    folder = tmp_path_factory.mktemp("rules")
    for name in OKTA_RULES:
        shutil.copy(DETECTIONS / "idp" / f"{name}.yml", folder)
    for name, text in RULES.items():
        (folder / f"{name}.yml").write_text(text, "utf-8")
    for kind in KINDS:
        (folder / f"{kind}.yml").write_text(_kind_rule(kind), "utf-8")
    compiled = compile_rules([folder])
    assert compiled.errors == []
    by_name = {c.title: detect_rule(c, RuleOptions()) for c in compiled.correlations}
    by_name |= {r.title: detect_rule(r, RuleOptions()) for r in compiled.rules if r.title.startswith("okta ")}
    return by_name


async def _sweep(
    search: SearchClient, settings: Settings, rule: Any, *windows: Window, cap: int = 10_000
) -> list[RuleWindowResult]:
    results = []
    for n, window in enumerate(windows):
        spec = SearchWindowInput(
            group_id="okta",
            run_id=f"run-{n}",
            namespace=settings.namespace,
            items=[RuleWindow(rule=rule, window=window, max_alerts=100)],
            page_size=500,
            concurrency=2,
            max_group_events=cap,
        )
        [result] = await search_window(search, spec)
        results.append(result)
    return results


async def _alerts(search: SearchClient, rule_id: str) -> list[dict[str, Any]]:
    await search.es.indices.refresh(index=alerts_index("default"))
    response = await search.es.search(
        index=alerts_index("default"),
        query={"term": {"soar.alert.rule.uuid": rule_id}},
        size=100,
        sort=[{"soar.alert.original_time": "asc"}],
    )
    return [hit["_source"] for hit in response["hits"]["hits"]]


@pytest.fixture
def start() -> datetime:
    """A 10-minute boundary two hours ago: tumbling buckets would cut there."""
    return aligned(datetime.now(UTC), timedelta(hours=2))


async def test_event_count_burst_across_two_sweep_windows_alerts_once(
    search: SearchClient, settings: Settings, rules: dict[str, Any], start: datetime
) -> None:
    await ensure_indices(search, settings.namespace)
    burst = minutes(start, -3, -2, -1, 1, 2)  # no 10-minute bucket holds five of them; a sliding window does
    spread = minutes(start, -40, -33, -26, -19, -12)  # at most two within any 10 minutes
    lines = [
        okta(t, FAILED, f"u{n}@bank.example", "203.0.113.5", result="FAILURE") for n, t in enumerate(burst)
    ]
    lines += [okta(t, FAILED, "v@bank.example", "203.0.113.9", result="FAILURE") for t in spread]
    await ingest_okta(search, settings, lines)
    rule = rules["burst"]
    first = Window(start=start - timedelta(hours=1), end=start)
    second = Window(start=start - timedelta(minutes=1), end=start + timedelta(hours=1))  # the sweep's overlap
    results = await _sweep(search, settings, rule, first, second)
    assert [r.created for r in results] == [0, 1]
    again = await _sweep(search, settings, rule, first, second)
    assert [(r.created, r.duplicates) for r in again] == [(0, 0), (0, 1)]
    [alert] = await _alerts(search, rule.rule_id)
    fields = alert["soar"]["alert"]
    assert alert["source"]["ip"] == "203.0.113.5"
    assert fields["group"]["values"] == {"source.ip": "203.0.113.5"}
    assert fields["group"]["id"]
    assert fields["correlation"]["count"] == 5
    assert fields["correlation"]["sources_total"] == 5
    assert fields["correlation"]["first"].startswith(burst[0].strftime("%Y-%m-%dT%H:%M"))
    assert fields["correlation"]["last"].startswith(burst[-1].strftime("%Y-%m-%dT%H:%M"))
    assert fields["source"] == fields["correlation"]["sources"][0]
    assert fields["rule"]["type"] == "event_count"


async def test_a_burst_decided_in_the_overlap_is_written_once_by_two_windows(
    search: SearchClient, settings: Settings, rules: dict[str, Any], start: datetime
) -> None:
    await ensure_indices(search, settings.namespace)
    burst = [start - timedelta(seconds=270) + timedelta(minutes=n) for n in range(5)]  # fifth at start - 30s
    lines = [okta(t, FAILED, "w@bank.example", "198.51.100.7", result="FAILURE") for t in burst]
    await ingest_okta(search, settings, lines)
    first = Window(start=start - timedelta(hours=1), end=start)
    second = Window(start=start - timedelta(minutes=1), end=start + timedelta(hours=1))
    results = await _sweep(search, settings, rules["burst"], first, second)
    assert [(r.created, r.duplicates) for r in results] == [(1, 0), (0, 1)]


async def test_without_group_by_every_event_is_one_group(
    search: SearchClient, settings: Settings, rules: dict[str, Any], start: datetime
) -> None:
    await ensure_indices(search, settings.namespace)
    times = minutes(start, 1, 2, 3, 4, 5)
    lines = [
        okta(t, FAILED, f"x{n}@bank.example", f"192.0.2.{n}", result="FAILURE") for n, t in enumerate(times)
    ]
    await ingest_okta(search, settings, lines)
    window = Window(start=start, end=start + timedelta(hours=1))
    [result] = await _sweep(search, settings, rules["anywhere"], window)
    assert result.created == 1
    [alert] = await _alerts(search, rules["anywhere"].rule_id)
    assert alert["soar"]["alert"]["group"]["values"] == {}


async def test_value_count_counts_distinct_values(
    search: SearchClient, settings: Settings, rules: dict[str, Any], start: datetime
) -> None:
    await ensure_indices(search, settings.namespace)
    two_users = [
        okta(t, FAILED, f"a{n % 2}@bank.example", "203.0.113.20", result="FAILURE")
        for n, t in enumerate(minutes(start, 1, 2, 3, 4, 5, 6))
    ]
    three_users = [
        okta(t, FAILED, f"b{n}@bank.example", "203.0.113.30", result="FAILURE")
        for n, t in enumerate(minutes(start, 1, 2, 3))
    ]
    await ingest_okta(search, settings, two_users + three_users)
    [result] = await _sweep(
        search, settings, rules["spray"], Window(start=start, end=start + timedelta(hours=1))
    )
    assert result.created == 1
    [alert] = await _alerts(search, rules["spray"].rule_id)
    correlation = alert["soar"]["alert"]["correlation"]
    assert alert["source"]["ip"] == "203.0.113.30"
    assert (correlation["count"], correlation["field"]) == (3, "user.name")
    assert correlation["values"] == ["b0@bank.example", "b1@bank.example", "b2@bank.example"]


async def test_temporal_ordered_respects_order_and_temporal_does_not(
    search: SearchClient, settings: Settings, rules: dict[str, Any], start: datetime
) -> None:
    await ensure_indices(search, settings.namespace)
    reset, grant = "user.mfa.factor.reset_all", "user.account.privilege.grant"
    lines = [
        okta(
            start + timedelta(minutes=1),
            reset,
            "admin1@bank.example",
            "198.51.100.1",
            target="c@bank.example",
        ),
        okta(
            start + timedelta(minutes=11),
            grant,
            "admin1@bank.example",
            "198.51.100.1",
            target="d@bank.example",
        ),
        okta(
            start + timedelta(minutes=1),
            grant,
            "admin2@bank.example",
            "198.51.100.2",
            target="e@bank.example",
        ),
        okta(
            start + timedelta(minutes=11),
            reset,
            "admin2@bank.example",
            "198.51.100.2",
            target="f@bank.example",
        ),
    ]
    await ingest_okta(search, settings, lines)
    window = Window(start=start, end=start + timedelta(hours=1))
    await _sweep(search, settings, rules["ordered"], window)
    await _sweep(search, settings, rules["unordered"], window)
    ordered = await _alerts(search, rules["ordered"].rule_id)
    assert [a["user"]["name"] for a in ordered] == ["admin1@bank.example"]
    assert ordered[0]["soar"]["alert"]["correlation"]["count"] == 2
    unordered = await _alerts(search, rules["unordered"].rule_id)
    assert sorted(a["user"]["name"] for a in unordered) == ["admin1@bank.example", "admin2@bank.example"]


async def test_threshold_fires_at_its_count_only(
    search: SearchClient, settings: Settings, rules: dict[str, Any], start: datetime
) -> None:
    await ensure_indices(search, settings.namespace)
    four = [
        okta(t, FAILED, "p@bank.example", "192.0.2.50", result="FAILURE") for t in minutes(start, 1, 3, 5, 7)
    ]
    three = [
        okta(t, FAILED, "q@bank.example", "192.0.2.51", result="FAILURE") for t in minutes(start, 1, 3, 5)
    ]
    await ingest_okta(search, settings, four + three)
    rule = rules["okta threshold"]
    window = Window(start=start, end=start + timedelta(hours=1))
    [result] = await _sweep(search, settings, rule, window)
    assert (result.hits, result.created) == (1, 1)
    [alert] = await _alerts(search, rule.rule_id)
    assert alert["user"]["name"] == "p@bank.example"
    assert alert["soar"]["alert"]["rule"]["type"] == "threshold"
    [again] = await _sweep(search, settings, rule, window)
    assert (again.created, again.duplicates) == (0, 1)


async def test_new_terms_fire_for_an_unseen_tuple_only_once_the_history_exists(
    search: SearchClient, settings: Settings, rules: dict[str, Any], start: datetime
) -> None:
    await ensure_indices(search, settings.namespace)
    usual = [
        okta(t, FAILED, "k@bank.example", "192.0.2.60", result="FAILURE")
        for t in minutes(start, -150, -90, -30, 5)
    ]
    early = [okta(start - timedelta(minutes=140), FAILED, "m@bank.example", "192.0.2.61", result="FAILURE")]
    new = [okta(start + timedelta(minutes=10), FAILED, "k@bank.example", "203.0.113.66", result="FAILURE")]
    back = [
        okta(t, FAILED, "n@bank.example", "192.0.2.62", result="FAILURE") for t in minutes(start, -80, 20)
    ]
    await ingest_okta(search, settings, usual + early + new + back)
    rule = rules["okta new_terms"]
    warm = Window(start=start - timedelta(minutes=150), end=start - timedelta(minutes=100))
    [warming] = await _sweep(search, settings, rule, warm)
    assert warming.created == 0  # everything is new there, but the rule has not had an hour of events yet
    window = Window(start=start, end=start + timedelta(hours=1))
    [result] = await _sweep(search, settings, rule, window)
    assert result.created == 2  # k from a new address; n, unseen for more than the history
    alerts = await _alerts(search, rule.rule_id)
    assert [(a["user"]["name"], a["source"]["ip"]) for a in alerts] == [
        ("k@bank.example", "203.0.113.66"),
        ("n@bank.example", "192.0.2.62"),
    ]
    assert alerts[0]["event"]["action"] == FAILED  # the first sighting's event is copied
    later = Window(start=start + timedelta(minutes=25), end=start + timedelta(hours=2))
    [after] = await _sweep(search, settings, rule, later)
    assert (after.created, after.hits) == (0, 0)


async def test_flatline_fires_for_a_silence_and_not_while_events_flow(
    search: SearchClient, settings: Settings, rules: dict[str, Any], start: datetime
) -> None:
    await ensure_indices(search, settings.namespace)
    flowing = [m for m in range(-120, 1, 5) if not -60 < m < -30]  # silent from -60 to -30
    lines = [
        okta(t, FAILED, "f@bank.example", "192.0.2.70", result="FAILURE") for t in minutes(start, *flowing)
    ]
    await ingest_okta(search, settings, lines)
    rule = rules["okta flatline"]
    [quiet] = await _sweep(search, settings, rule, Window(start=start - timedelta(minutes=25), end=start))
    assert quiet.created == 0
    [result] = await _sweep(search, settings, rule, Window(start=start - timedelta(hours=2), end=start))
    assert result.created == 1
    [alert] = await _alerts(search, rule.rule_id)
    flatline = alert["soar"]["alert"]["correlation"]
    assert flatline["first"].startswith((start - timedelta(minutes=60)).strftime("%Y-%m-%dT%H:%M"))
    assert flatline["last"].startswith((start - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"))
    [again] = await _sweep(search, settings, rule, Window(start=start - timedelta(minutes=50), end=start))
    assert (again.created, again.duplicates) == (0, 1)


async def test_a_group_beyond_the_first_page_is_read_in_full_up_to_the_cap(
    search: SearchClient, settings: Settings, rules: dict[str, Any], start: datetime
) -> None:
    await ensure_indices(search, settings.namespace)
    steady = minutes(start, *range(150))  # one failure a minute for 150 minutes: one long attack
    lines = [
        okta(t, FAILED, f"s{n}@bank.example", "203.0.113.77", result="FAILURE") for n, t in enumerate(steady)
    ]
    later = minutes(start, 200, 201, 202, 203, 204)
    lines += [okta(t, FAILED, "z@bank.example", "203.0.113.78", result="FAILURE") for t in later]
    await ingest_okta(search, settings, lines)
    window = Window(start=start, end=start + timedelta(hours=4))
    [capped] = await _sweep(search, settings, rules["burst"], window, cap=120)
    assert (capped.created, capped.truncated) == (2, True)  # read up to 120 of 150: still one alert for them
    [full] = await _sweep(search, settings, rules["burst"], window)
    assert (full.created, full.duplicates, full.truncated) == (0, 2, False)
    alerts = await _alerts(search, rules["burst"].rule_id)
    assert [a["soar"]["alert"]["correlation"]["sources_total"] for a in alerts] == [
        11,
        5,
    ]  # 10 minutes, inclusive


async def test_an_exception_of_a_referenced_rule_keeps_its_events_out_of_the_correlation(
    search: SearchClient, settings: Settings, rules: dict[str, Any], start: datetime, tmp_path: Path
) -> None:
    await ensure_indices(search, settings.namespace)
    times = minutes(start, 1, 2, 3, 4, 5)
    lines = [
        okta(t, FAILED, f"o{n}@bank.example", "194.25.0.10", result="FAILURE") for n, t in enumerate(times)
    ]
    lines += [
        okta(t, FAILED, f"i{n}@bank.example", "203.0.113.5", result="FAILURE") for n, t in enumerate(times)
    ]
    await ingest_okta(search, settings, lines)
    folder = tmp_path / "exceptions"
    folder.mkdir()
    today = date.today()
    (folder / "office.yml").write_text(
        f"id: office\nrule: okta_sign_in_failed\nowner: soc@bank.example\nreason: office egress\n"
        f"created: {today - timedelta(days=1)}\nexpires: {today + timedelta(days=30)}\n"
        "match:\n  source.ip: {cidr: 194.25.0.0/22}\n",
        "utf-8",
    )
    [item], in_force = with_exceptions([rules["burst"]], str(folder), today)
    assert [v.split("@")[0] for v in in_force.active] == ["office"]
    [result] = await _sweep(search, settings, item, Window(start=start, end=start + timedelta(hours=1)))
    assert result.created == 1
    [alert] = await _alerts(search, item.rule_id)
    assert alert["source"]["ip"] == "203.0.113.5"
    assert alert["soar"]["alert"]["exceptions"]["versions"] == in_force.active
