"""``soar audit verify`` and ``soar audit show``: check the hash chains, read one stream's trail."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from soar.audit.verify import VerifyReport, iter_records, verify
from soar.cli.common import State, command, out_console, print_json_line
from soar.engines.session import search_session
from soar.errors import InputError

app = typer.Typer(help="Verify and read the tamper-evident audit trail.", no_args_is_help=True)


@app.command("verify")
@command
async def verify_command(
    stream: Annotated[str | None, typer.Option(help="Only this stream (a workflow id, or cli).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="The verdict as one JSON document.")] = False,
) -> None:
    """Re-hash every record and check links, seqs and head anchors; exit 1 if any stream is broken."""
    settings = State.settings()
    async with search_session(settings) as search:
        report = await verify(search, settings.namespace, stream=stream)
    if stream is not None and report.streams == 0:  # a mistyped stream must not read as "OK"
        raise InputError(f"no audit records and no head anchor for stream {stream}", field="--stream")
    if json_out:
        print_json_line(_verdict(report))
    else:
        _print(report)
    if not report.ok:
        raise typer.Exit(1)


def _verdict(report: VerifyReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "streams": report.streams,
        "records": report.records,
        "broken": [
            {"stream": b.stream, "seq": b.broken_seq, "reason": b.reason, "records": b.records}
            for b in report.broken
        ],
        "unanchored": report.unanchored,
    }


def _print(report: VerifyReport) -> None:
    verdict = "OK" if report.ok else "BROKEN"
    out_console.print(
        f"{verdict}: {report.streams} streams, {report.records} records, {len(report.broken)} broken",
        markup=False,
    )
    for broken in report.broken:
        out_console.print(
            f"broken: stream {broken.stream} seq {broken.broken_seq}: {broken.reason}", markup=False
        )
    for name in report.unanchored:
        out_console.print(
            f"warning: stream {name} has no head anchor (truncation not checkable)", markup=False
        )


@app.command("show")
@command
async def show(
    stream: Annotated[str, typer.Argument(help="The stream: a workflow id, or cli.")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per record.")] = False,
) -> None:
    """Print one stream's records in order (as stored; ``soar audit verify`` says whether to trust them)."""
    settings = State.settings()
    count = 0
    async with search_session(settings) as search:
        async for hit in iter_records(search, settings.namespace, stream):
            count += 1
            record = hit["_source"]
            if json_out:
                print_json_line(record)
            else:
                out_console.print(_line(record), markup=False)
    if count == 0:
        raise InputError(f"no audit records in stream {stream}", field="STREAM")


def _line(record: dict[str, Any]) -> str:
    # One line per record, so a trail greps and diffs like a log.
    fields = (str(record.get(k, "")) for k in ("at", "actor", "action", "subject"))
    result = json.dumps(record.get("result"), separators=(",", ":"), ensure_ascii=False)
    return f"{record.get('seq', '?'):>4} {' '.join(fields)} {result} {str(record.get('hash', ''))[:12]}"
