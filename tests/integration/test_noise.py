"""Noise control on the embedded search engine: suppression, exceptions in the search, risk overrides."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soar.detect.alerts import alerts_index
from soar.detect.checkpoints import ensure_indices
from soar.detect.exception_files import exceptions_in_force
from soar.detect.exceptions import ExceptionsInForce
from soar.detect.execute import search_window
from soar.detect.models import RuleWindow, RuleWindowResult, SearchWindowInput, Window
from soar.detect.ruleset import detect_rules
from soar.detect.settings import RuleOptions
from soar.engines.search import SearchClient
from soar.rules.compile import compile_rules
from soar.telemetry.ecs import format_timestamp
from soar.telemetry.ingest import install_templates
from soar.telemetry.sources import SOURCES, Source

pytestmark = pytest.mark.engines

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
TODAY = date(2026, 11, 23)
RULE = """\
title: Test Okta sign-in failed {name}
id: {rule_id}
name: {name}
status: test
description: a failed workforce sign-in
author: soar tests
date: '2026-11-23'
logsource:
  product: okta
  service: okta
detection:
  selection:
    event.action: user.session.start
    okta.outcome.result: FAILURE
  condition: selection
level: medium
"""
SUPPRESSED = "5a0c6b6e-8f55-4d1a-9a2b-0d6f3f0c1a01"
MISSING_ALERT = "5a0c6b6e-8f55-4d1a-9a2b-0d6f3f0c1a02"
PLAIN = "5a0c6b6e-8f55-4d1a-9a2b-0d6f3f0c1a03"


def _rules(tmp_path: Path, *rules: tuple[str, str, str]) -> Path:
    folder = tmp_path / "rules"
    (folder / "exceptions").mkdir(parents=True, exist_ok=True)
    for rule_id, name, soar in rules:
        text = RULE.format(rule_id=rule_id, name=name) + soar
        (folder / f"{name.replace('_', '-')}.yml").write_text(text, "utf-8")
    return folder


def _failure(user: str, ip: str | None, at: datetime, n: int) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@timestamp": format_timestamp(at),
        "event": {"action": "user.session.start", "reason": "INVALID_CREDENTIALS", "id": f"{user}-{n}"},
        "okta": {"outcome": {"result": "FAILURE"}},
        "user": {"name": user},
    }
    if ip is not None:
        doc["source"] = {"ip": ip}
    return doc


async def _index(search: SearchClient, docs: list[dict[str, Any]]) -> None:
    await install_templates(search)
    operations: list[dict[str, Any]] = []
    for doc in docs:
        operations += [
            {"create": {"_index": SOURCES[Source.OKTA].index("default"), "_id": doc["event"]["id"]}},
            doc,
        ]
    response = await search.es.bulk(operations=operations, refresh=True)
    assert not response["errors"]


def _burst(
    user: str, ip: str | None, start: datetime, count: int, step: timedelta, first: int = 0
) -> list[Any]:
    return [_failure(user, ip, start + i * step, first + i) for i in range(count)]


async def _sweep(
    search: SearchClient, rules: Path, start: datetime, end: datetime, *, page_size: int = 7
) -> tuple[list[RuleWindowResult], ExceptionsInForce]:
    detect = detect_rules(compile_rules([rules]).rules, RuleOptions())
    detect, in_force = exceptions_in_force(detect, str(rules / "exceptions"), TODAY)
    items = [RuleWindow(rule=r, window=Window(start=start, end=end), max_alerts=5000) for r in detect]
    spec = SearchWindowInput(
        group_id="okta", run_id="run", namespace="default", items=items, page_size=page_size, concurrency=2
    )
    return await search_window(search, spec), in_force


async def _alerts(search: SearchClient, rule_id: str) -> list[dict[str, Any]]:
    await search.es.indices.refresh(index=alerts_index("default"))
    response = await search.es.search(
        index=alerts_index("default"),
        query={"term": {"soar.alert.rule.uuid": rule_id}},
        sort=[{"soar.alert.original_time": "asc"}],
        size=1000,
    )
    return [hit["_source"] for hit in response["hits"]["hits"]]


def _suppression(alert: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = alert["soar"]["alert"]["suppression"]
    return fields


SUPPRESS = "soar:\n  suppress: {by: [user.name, source.ip], for: 1h}\n"


async def test_a_burst_becomes_one_alert_counted_and_a_rerun_keeps_it_one(
    search: SearchClient, tmp_path: Path
) -> None:
    await ensure_indices(search, "default")
    rules = _rules(tmp_path, (SUPPRESSED, "burst_rule", SUPPRESS))
    minute = timedelta(minutes=1)
    await _index(
        search,
        _burst("anna@bank.example", "198.51.100.7", T0, 30, minute)
        + _burst("ben@bank.example", "198.51.100.7", T0 + 5 * minute, 5, minute),
    )
    window = (T0 - minute, T0 + timedelta(hours=2))
    [first], _ = await _sweep(search, rules, *window)
    assert (first.hits, first.created, first.suppressed, first.duplicates) == (35, 2, 33, 0)
    anna, ben = await _alerts(search, SUPPRESSED)
    assert _suppression(anna)["docs_count"] == 29  # the alert's own event is not counted, as in Kibana
    assert _suppression(anna)["terms"] == [
        {"field": "user.name", "value": "anna@bank.example"},
        {"field": "source.ip", "value": "198.51.100.7"},
    ]
    assert _time(_suppression(anna)["start"]) == T0
    assert _time(_suppression(anna)["end"]) == T0 + 29 * minute
    assert anna["soar"]["alert"]["source"]["id"] == "anna@bank.example-0"
    assert _suppression(ben)["docs_count"] == 4
    # The same window again (a retried activity, a lost checkpoint): nothing new, the same counts.
    [again], _ = await _sweep(search, rules, *window, page_size=500)
    assert (again.created, again.duplicates, again.suppressed) == (0, 2, 33)
    assert [_suppression(a)["docs_count"] for a in await _alerts(search, SUPPRESSED)] == [29, 4]
    # Later events: inside anna's hour they are counted on her alert, after it they open a new bucket.
    await _index(
        search,
        _burst("anna@bank.example", "198.51.100.7", T0 + 40 * minute, 10, minute, first=100)
        + _burst("anna@bank.example", "198.51.100.7", T0 + 70 * minute, 5, minute, first=200),
    )
    [later], _ = await _sweep(search, rules, T0 + 30 * minute, T0 + timedelta(hours=2))
    assert later.created == 1
    anna, ben, anna_later = await _alerts(search, SUPPRESSED)
    assert (_suppression(anna)["docs_count"], _time(_suppression(anna)["end"])) == (39, T0 + 49 * minute)
    assert _suppression(anna_later)["docs_count"] == 4
    assert _time(_suppression(anna_later)["start"]) == T0 + 70 * minute
    assert anna["soar"]["alert"]["uuid"] != anna_later["soar"]["alert"]["uuid"]


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_concurrent_workers_write_one_alert_per_bucket_with_the_full_count(
    search: SearchClient, tmp_path: Path
) -> None:
    await ensure_indices(search, "default")
    rules = _rules(tmp_path, (SUPPRESSED, "burst_rule", SUPPRESS))
    second = timedelta(seconds=10)
    await _index(search, _burst("anna@bank.example", "198.51.100.7", T0, 40, second))
    window = (T0, T0 + timedelta(hours=1))
    runs = await asyncio.gather(*(_sweep(search, rules, *window, page_size=5) for _ in range(3)))
    assert sum(results[0].created for results, _ in runs) == 1
    [alert] = await _alerts(search, SUPPRESSED)
    assert _suppression(alert)["docs_count"] == 39


async def test_missing_group_by_values_are_grouped_or_alerted_as_the_rule_says(
    search: SearchClient, tmp_path: Path
) -> None:
    await ensure_indices(search, "default")
    missing_alert = "soar:\n  suppress: {by: [user.name, source.ip], for: 1h, missing: alert}\n"
    rules = _rules(
        tmp_path, (SUPPRESSED, "grouped_rule", SUPPRESS), (MISSING_ALERT, "alerted_rule", missing_alert)
    )
    await _index(search, _burst("carl@bank.example", None, T0, 4, timedelta(minutes=1)))
    results, _ = await _sweep(search, rules, T0, T0 + timedelta(hours=1))
    by_rule = {r.rule_id: r for r in results}
    assert (by_rule[SUPPRESSED].created, by_rule[SUPPRESSED].suppressed) == (1, 3)
    [grouped] = await _alerts(search, SUPPRESSED)
    assert _suppression(grouped)["terms"][1] == {"field": "source.ip", "value": None}
    assert _suppression(grouped)["docs_count"] == 3
    assert (by_rule[MISSING_ALERT].created, by_rule[MISSING_ALERT].suppressed) == (4, 0)
    assert all("suppression" not in a["soar"]["alert"] for a in await _alerts(search, MISSING_ALERT))


def _exception(folder: Path, exception_id: str, expires: str, match: str, rule: str = PLAIN) -> None:
    (folder / f"{exception_id}.yml").write_text(
        f"id: {exception_id}\nrule: {rule}\nowner: soc@bank.example\nreason: test\n"
        f"created: 2026-11-01\nexpires: {expires}\nmatch:\n{match}",
        "utf-8",
    )


async def test_an_active_exception_removes_its_hits_an_expired_one_does_not_and_risk_is_mapped(
    search: SearchClient, tmp_path: Path
) -> None:
    await ensure_indices(search, "default")
    risk = "soar:\n  risk_score_mapping:\n    - {field: user.name, value: ceo@bank.example, risk_score: 95}\n"
    rules = _rules(tmp_path, (PLAIN, "plain_rule", risk))
    _exception(rules / "exceptions", "office", "2027-01-31", "  source.ip: {cidr: 194.25.0.0/22}\n")
    _exception(
        rules / "exceptions", "old-ceo", "2026-11-22", "  user.name: ceo@bank.example\n", rule="plain_rule"
    )
    minute = timedelta(minutes=1)
    await _index(
        search,
        _burst("dora@bank.example", "194.25.1.161", T0, 6, minute)
        + _burst("ceo@bank.example", "203.0.113.9", T0, 2, minute)
        + _burst("eve@bank.example", "203.0.113.10", T0, 3, minute),
    )
    [result], in_force = await _sweep(search, rules, T0, T0 + timedelta(hours=1))
    assert (result.hits, result.created) == (5, 5)  # the office's six events were never fetched
    assert in_force.expired == ["old-ceo"]
    assert [v.split("@")[0] for v in in_force.active] == ["office"]
    alerts = await _alerts(search, PLAIN)
    assert {a["user"]["name"] for a in alerts} == {"ceo@bank.example", "eve@bank.example"}
    for alert in alerts:
        assert alert["soar"]["alert"]["exceptions"] == {"hash": in_force.hash, "versions": in_force.active}
    scores = {a["user"]["name"]: a["soar"]["alert"]["risk_score"] for a in alerts}
    assert scores == {"ceo@bank.example": 95, "eve@bank.example": 47}
    ceo = next(a for a in alerts if a["user"]["name"] == "ceo@bank.example")
    assert ceo["soar"]["alert"]["risk_score_mapping"]["value"] == "ceo@bank.example"


async def test_an_alerts_index_from_an_older_soar_gains_the_suppression_fields(search: SearchClient) -> None:
    old = {
        "dynamic": False,
        "properties": {"soar": {"properties": {"alert": {"properties": {"uuid": {"type": "keyword"}}}}}},
    }
    await search.es.indices.create(index=alerts_index("default"), mappings=old)
    await ensure_indices(search, "default")
    mapping = await search.es.indices.get_mapping(index=alerts_index("default"))
    alert = mapping[alerts_index("default")]["mappings"]["properties"]["soar"]["properties"]["alert"][
        "properties"
    ]
    assert alert["suppression"]["properties"]["key"] == {"type": "keyword"}
    assert alert["exceptions"]["properties"]["hash"] == {"type": "keyword"}
