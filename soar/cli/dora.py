"""The ``soar dora`` commands: classify an assessment, show its deadlines, export a report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from soar.cli.common import command, err_console, out_console, print_json_line
from soar.dora.classification import Classification, classify
from soar.dora.deadlines import Deadlines, compute_deadlines
from soar.dora.document import make_document
from soar.dora.enums import Stage
from soar.dora.export import ExportFormat, assessment_of, export, read_source
from soar.dora.incident import DoraIncident
from soar.errors import AssessmentError

app = typer.Typer(
    help="DORA major-incident classification, reporting deadlines and reports.", no_args_is_help=True
)

STAGES = {"initial": Stage.INITIAL, "intermediate": Stage.INTERMEDIATE, "final": Stage.FINAL}
SourceArg = Annotated[Path, typer.Argument(help="Assessment or incident JSON file.", show_default=False)]


def _classification_json(c: Classification, d: Deadlines) -> dict[str, Any]:
    return {
        "major": c.major,
        "gate": c.gate,
        "shortcut": c.shortcut,
        "rule": c.rule,
        "thresholds": [t.value for t in c.thresholds],
        "counted": [t.value for t in c.counted],
        "initial_due": d.initial.due.isoformat() if d.initial.due else None,
        "explanation": list(c.explanation),
        "criteria": [r.model_dump(mode="json") for r in c.criteria],
    }


def _parse_now(now: str | None) -> datetime | None:
    if now is None:
        return None
    try:
        value = datetime.fromisoformat(now)
    except ValueError:
        raise AssessmentError("not an ISO 8601 date-time", field="--now") from None
    if value.utcoffset() is None:
        raise AssessmentError("must carry a UTC offset", field="--now")
    return value


@app.command("classify")
@command
def classify_cmd(
    source: SourceArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Classify an incident under RTS-C Art. 8 and explain each criterion."""
    loaded = read_source(source)
    assessment = assessment_of(loaded)
    result, deadlines = classify(assessment), compute_deadlines(assessment)
    if as_json:
        print_json_line(_classification_json(result, deadlines))
        return
    table = Table("criterion", "article", "met", "figures", title=result.explanation[0])
    for r in result.criteria:
        figures = "\n".join(
            f"{c.ref} {c.text}".strip() + (": met" if c.met else ": not met") for c in r.checks
        )
        table.add_row(r.label, r.article, "yes" if r.met else "no", figures)
    out_console.print(table)
    if result.major:
        out_console.print(
            f"initial notification due {deadlines.initial.due}: {deadlines.initial.explanation}"
        )


@app.command("deadlines")
@command
def deadlines_cmd(
    source: SourceArg,
    now: Annotated[str | None, typer.Option(help="Judge deadlines against this ISO 8601 time.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show the initial, intermediate and final deadlines (RTS-R Art. 5)."""
    loaded = read_source(source)
    submissions = loaded.submissions if isinstance(loaded, DoraIncident) else None
    result = compute_deadlines(assessment_of(loaded), submissions, _parse_now(now))
    if as_json:
        print_json_line(result.model_dump(mode="json"))
        return
    table = Table("report", "due", "status", "how", title=f"DORA deadlines ({result.timezone})")
    for d in result.all():
        table.add_row(d.report, d.due.isoformat() if d.due else "not yet running", d.status, d.explanation)
    out_console.print(table)
    for note in result.notes:
        out_console.print(f"- {note}")


@app.command("report")
@command
def report_cmd(
    source: SourceArg,
    stage: Annotated[str, typer.Option(help="initial, intermediate or final.")] = "initial",
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Output format.")] = ExportFormat.JSON,
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")] = Path("dora-report.json"),
) -> None:
    """Build, validate and export the report of one stage (ITS 2025/302)."""
    if stage not in STAGES:
        raise AssessmentError("must be initial, intermediate or final", field="--stage")
    loaded = read_source(source)
    try:
        document = make_document(loaded, STAGES[stage])
    except AssessmentError as exc:
        raise AssessmentError(exc.reason, file=str(source), field=exc.field) from None
    output.write_bytes(export(document, fmt))
    err_console.print(f"wrote {output} ({stage}, {fmt.value}, sha256 {document.sha256})", highlight=False)
