"""``soar audit verify`` / ``soar audit show`` on a search clone: exit codes, one line per broken stream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from soar.audit.direct import append_direct
from soar.audit.store import audit_index
from soar.cli.app import app
from soar.engines.search import SearchClient

pytestmark = pytest.mark.engines


async def _invoke(search_url: str, tmp_path: Path, *args: str) -> Result:
    env = {"SOAR_SEARCH__URLS": search_url, "SOAR_DATA_DIR": str(tmp_path / "data")}
    # The command runs its own event loop: give it a thread of its own.
    runner = CliRunner()
    return await asyncio.to_thread(lambda: runner.invoke(app, ["audit", *args], env=env))


async def _stream(search: SearchClient, stream: str, n: int) -> None:
    for i in range(n):
        await append_direct(
            search,
            "default",
            stream=stream,
            actor="alice",
            action="incident.updated",
            subject="INC-1",
            result={"i": i},
        )


async def test_verify_exits_0_then_1_naming_stream_and_seq(
    search: SearchClient, search_url: str, tmp_path: Path
) -> None:
    await _stream(search, "incident-INC-1", 4)
    await _stream(search, "cli", 2)
    ok = await _invoke(search_url, tmp_path, "verify")
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.strip() == "OK: 2 streams, 6 records, 0 broken"
    await search.es.update(
        index=audit_index("default"), id="incident-INC-1:00000002", doc={"subject": "INC-2"}, refresh=True
    )
    broken = await _invoke(search_url, tmp_path, "verify")
    assert broken.exit_code == 1
    lines = broken.stdout.strip().splitlines()
    assert lines == [
        "BROKEN: 2 streams, 6 records, 1 broken",
        "broken: stream incident-INC-1 seq 2: hash mismatch: the record was edited",
    ]
    only_cli = await _invoke(search_url, tmp_path, "verify", "--stream", "cli", "--json")
    assert only_cli.exit_code == 0, only_cli.output
    assert json.loads(only_cli.stdout) == {
        "ok": True,
        "streams": 1,
        "records": 2,
        "broken": [],
        "unanchored": [],
    }
    as_json = await _invoke(search_url, tmp_path, "verify", "--json")
    assert as_json.exit_code == 1
    verdict = json.loads(as_json.stdout)
    assert verdict["broken"] == [
        {"stream": "incident-INC-1", "seq": 2, "reason": "hash mismatch: the record was edited", "records": 4}
    ]


async def test_show_prints_the_trail_in_order(search: SearchClient, search_url: str, tmp_path: Path) -> None:
    await _stream(search, "incident-INC-1", 3)
    shown = await _invoke(search_url, tmp_path, "show", "incident-INC-1", "--json")
    assert shown.exit_code == 0, shown.output
    records = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert [r["result"] for r in records] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert records[1]["prev_hash"] == records[0]["hash"]
    table = await _invoke(search_url, tmp_path, "show", "incident-INC-1")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert len(lines) == 3
    assert lines[1].split()[:4] == ["2", records[1]["at"], "alice", "incident.updated"]
    assert lines[1].endswith(records[1]["hash"][:12])


async def test_show_of_an_unknown_stream_is_one_line(
    search: SearchClient, search_url: str, tmp_path: Path
) -> None:
    await _stream(search, "cli", 1)
    result = await _invoke(search_url, tmp_path, "show", "incident-NOPE")
    assert result.exit_code == 1
    assert result.output.strip() == "error: STREAM: no audit records in stream incident-NOPE"
