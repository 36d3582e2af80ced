"""``soar rules exceptions``, exception checks in ``soar rules validate``, and ``soar detect run --once`` with
suppression, exceptions and the ``[detect]`` settings, end to end on a search clone and embedded Temporal."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from soar.cli.app import app
from soar.config import Settings
from soar.detect.alerts import alerts_index
from soar.engines.embedded import free_port
from soar.engines.search import connect_search
from soar.telemetry.ecs import format_timestamp
from soar.telemetry.ingest import install_templates
from soar.telemetry.sources import SOURCES, Source

pytestmark = pytest.mark.engines

RULE_ID = "0f6f2d55-2b1c-4f44-9d0e-6f5b1f0d9a11"
RULE = f"""\
title: Okta sign-in failed (test)
id: {RULE_ID}
name: test_okta_sign_in_failed
status: test
description: a failed workforce sign-in
author: soar tests
date: '2026-11-23'
modified: '2026-11-23'
tags:
- attack.credential-access
- attack.t1110
logsource:
  product: okta
  service: okta
detection:
  selection:
    event.action: user.session.start
    okta.outcome.result: FAILURE
  condition: selection
falsepositives:
- Mistyped passwords
level: medium
soar:
  suppress: {{by: [user.name], for: 1h}}
  risk_score_mapping:
  - {{field: user.name, value: ceo@bank.example, risk_score: 95}}
"""


def _exception(folder: Path, exception_id: str, created: date, expires: date, user: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{exception_id}.yml").write_text(
        f"id: {exception_id}\nrule: {RULE_ID}\nowner: soc@bank.example\nreason: test {exception_id}\n"
        f"created: {created}\nexpires: {expires}\nmatch:\n  user.name: {user}\n",
        "utf-8",
    )


def _three(folder: Path) -> date:
    today = datetime.now(UTC).date()
    _exception(
        folder, "long-lived", today - timedelta(days=10), today + timedelta(days=100), "svc@bank.example"
    )
    _exception(
        folder, "ending-soon", today - timedelta(days=10), today + timedelta(days=5), "tmp@bank.example"
    )
    _exception(folder, "gone", today - timedelta(days=30), today - timedelta(days=1), "old@bank.example")
    return today


def test_exceptions_are_listed_with_owner_expiry_and_status(tmp_path: Path) -> None:
    folder = tmp_path / "exceptions"
    _three(folder)
    runner = CliRunner()
    listed = runner.invoke(app, ["rules", "exceptions", str(folder), "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {r["id"]: r for r in map(json.loads, listed.stdout.splitlines())}
    assert {k: r["status"] for k, r in rows.items()} == {
        "long-lived": "active",
        "ending-soon": "expiring",
        "gone": "expired",
    }
    assert rows["ending-soon"]["days_left"] == 5
    assert rows["gone"]["owner"] == "soc@bank.example"
    expired = runner.invoke(app, ["rules", "exceptions", str(folder), "--json", "--expired"])
    assert [json.loads(line)["id"] for line in expired.stdout.splitlines()] == ["gone"]
    table = runner.invoke(app, ["rules", "exceptions", str(folder)])
    assert "expires in 5 day(s)" in table.stdout
    assert "1 active, 1 expiring within 14 days, 1 expired; 0 bad file(s)" in table.stderr


def test_a_bad_exception_file_is_one_line_and_exit_1_the_good_ones_still_listed(tmp_path: Path) -> None:
    folder = tmp_path / "exceptions"
    _three(folder)
    text = (
        (folder / "gone.yml")
        .read_text("utf-8")
        .replace("user.name: old@bank.example", "source.ip: {cidr: x}")
    )
    (folder / "gone.yml").write_text(text, "utf-8")
    result = CliRunner().invoke(app, ["rules", "exceptions", str(folder), "--json"])
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 2
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert f"{folder / 'gone.yml'}:8: match.source.ip.cidr: not an address or CIDR range" in error
    assert "Traceback" not in result.output


def test_validate_checks_exception_files_and_the_rules_they_name(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "test-okta-sign-in-failed.yml").write_text(RULE, "utf-8")
    _three(rules / "exceptions")
    runner = CliRunner()
    good = runner.invoke(app, ["rules", "validate", str(rules)])
    assert good.exit_code == 0, good.output
    assert "1 rule(s) compiled, 3 exception(s) read, 0 problem(s)" in good.stderr
    text = (rules / "exceptions" / "gone.yml").read_text("utf-8").replace(RULE_ID, "no_such_rule")
    (rules / "exceptions" / "gone.yml").write_text(text, "utf-8")
    (rules / "exceptions" / "empty.yml").write_text("id: empty\n", "utf-8")
    bad = runner.invoke(app, ["rules", "validate", str(rules)])
    assert bad.exit_code == 1
    lines = bad.stdout.splitlines()
    assert f"{rules / 'exceptions' / 'gone.yml'}:2: rule: no rule with id or name 'no_such_rule'" in lines
    assert any(
        line.startswith(f"{rules / 'exceptions' / 'empty.yml'}:1: rule: Field required") for line in lines
    )


def _env(search_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "SOAR_SEARCH__URLS": search_url,
        "SOAR_DATA_DIR": str(tmp_path / "data"),
        "SOAR_EMBEDDED__TEMPORAL_PORT": str(free_port()),
        "SOAR_EMBEDDED__TEMPORAL_UI_PORT": str(free_port()),
        "SOAR_DETECT__EXCEPTIONS": str(tmp_path / "reviewed-exceptions"),
        "SOAR_DETECT__PAGE_SIZE": "4",
    }


def _failures(user: str, start: datetime, count: int) -> list[dict[str, Any]]:
    return [
        {
            "@timestamp": format_timestamp(start + timedelta(minutes=i)),
            "event": {"action": "user.session.start", "id": f"{user}-{i}"},
            "okta": {"outcome": {"result": "FAILURE"}},
            "user": {"name": user},
        }
        for i in range(count)
    ]


async def _ingest(settings: Settings, docs: list[dict[str, Any]]) -> None:
    async with await connect_search(settings.search) as search:
        await install_templates(search)
        operations: list[dict[str, Any]] = []
        for doc in docs:
            operations += [
                {"create": {"_index": SOURCES[Source.OKTA].index(), "_id": doc["event"]["id"]}},
                doc,
            ]
        assert not (await search.es.bulk(operations=operations, refresh=True))["errors"]


async def _alerts(settings: Settings) -> list[dict[str, Any]]:
    async with await connect_search(settings.search) as search:
        await search.es.indices.refresh(index=alerts_index("default"))
        response = await search.es.search(index=alerts_index("default"), size=100)
    return [hit["_source"] for hit in response["hits"]["hits"]]


def test_run_once_suppresses_applies_exceptions_from_settings_and_maps_risk(
    settings: Settings, search_url: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "test-okta-sign-in-failed.yml").write_text(RULE, "utf-8")
    _three(tmp_path / "reviewed-exceptions")  # named by SOAR_DETECT__EXCEPTIONS, not next to the rules
    start = datetime.now(UTC) - timedelta(hours=3)
    users = (
        "anna@bank.example",
        "ceo@bank.example",
        "svc@bank.example",
        "tmp@bank.example",
        "old@bank.example",
    )
    # The command runs its own event loop, so this test is synchronous and so is its set-up.
    asyncio.run(_ingest(settings, [d for user in users for d in _failures(user, start, 12)]))
    runner = CliRunner()
    args = ["detect", "run", "--once", "--rules", str(rules), "--json"]
    env = _env(search_url, tmp_path)
    first = runner.invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout.splitlines()[-1])["alerts_created"] == 3  # anna, ceo, old: one each
    assert "expired exceptions (no longer applied): gone" in " ".join(first.stderr.split())
    second = runner.invoke(app, args, env=env)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout.splitlines()[-1])["alerts_created"] == 0
    hits = asyncio.run(_alerts(settings))
    alerts = {h["user"]["name"]: h["soar"]["alert"] for h in hits}
    assert set(alerts) == {"anna@bank.example", "ceo@bank.example", "old@bank.example"}
    assert {u: a["suppression"]["docs_count"] for u, a in alerts.items()} == dict.fromkeys(alerts, 11)
    assert (alerts["ceo@bank.example"]["risk_score"], alerts["anna@bank.example"]["risk_score"]) == (95, 47)
    assert sorted(v.split("@")[0] for v in alerts["anna@bank.example"]["exceptions"]["versions"]) == [
        "ending-soon",
        "long-lived",
    ]
