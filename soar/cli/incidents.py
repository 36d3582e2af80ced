"""``soar incidents list|show|update|approve|reject|report``: incidents, their DORA view, people's part."""

from __future__ import annotations

import asyncio
import getpass
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from soar.cli.common import State, command, err_console, out_console, print_json_line
from soar.engines.session import search_session, temporal_session
from soar.errors import InputError
from soar.incidents.lookup import resolve_action
from soar.incidents.models import (
    QUERY_STATE,
    SIGNAL_RENDER,
    STAGES,
    IncidentStatus,
    IncidentUpdate,
    IncidentView,
    RenderRequest,
    ReportStage,
)
from soar.incidents.store import get_incident, list_incidents
from soar.incidents.updates import check_pairs, known_fields
from soar.response.approvals import refusal
from soar.response.models import (
    SIGNAL_DECIDE,
    SIGNAL_UPDATE,
    ApprovalDecision,
    Decision,
    containment_workflow_id,
    incident_workflow_id,
)

app = typer.Typer(
    help="Incidents: grouped alerts, DORA classification and deadlines, people's facts.", no_args_is_help=True
)

IdArg = Annotated[str, typer.Argument(help="Incident id (INC-...).", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
ByOption = Annotated[str | None, typer.Option("--by", help="Who does it (default: the OS user).")]
_REPORT_WAIT = 120  # polls of 0.5 s for a requested report


def _by(by: str | None) -> str:
    name = (by or getpass.getuser()).strip()
    if not name:
        raise InputError("needs a name", field="--by")
    return name


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "—"


async def _load(incident_id: str) -> IncidentView:
    settings = State.settings()
    async with search_session(settings) as search:
        view = await get_incident(search, settings.namespace, incident_id)
    if view is None:
        raise InputError("no such incident", field=incident_id)
    return view


async def _signal(client: Client, workflow_id: str, signal: str, arg: Any, what: str) -> None:
    try:
        await client.get_workflow_handle(workflow_id).signal(signal, arg)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise InputError(f"{what} is not running (closed or never started)", field=workflow_id) from None
        raise InputError(f"cannot signal {what}: {exc.message}", field=workflow_id) from None


@app.command("list")
@command
async def list_cmd(
    status: Annotated[IncidentStatus | None, typer.Option(help="Only incidents of this status.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List incidents, newest first."""
    settings = State.settings()
    async with search_session(settings) as search:
        views = await list_incidents(search, settings.namespace, status, limit)
    if as_json:
        for v in views:
            print_json_line(v.model_dump(mode="json"))
        return
    table = Table("incident", "status", "opened", "alerts", "major", "next deadline", "title")
    for v in views:
        c = v.classification
        major = "—" if c is None else ("yes" if c.major else "no")
        due = next((d for d in v.deadlines if d.due and d.status in ("open", "overdue")), None)
        table.add_row(
            v.incident_id, v.status.value, _when(v.opened_at), str(v.alerts_count), major,
            f"{due.report} {_when(due.due)} ({due.status})" if due else "—", v.title,
        )  # fmt: skip
    out_console.print(table)


def _print_view(v: IncidentView) -> None:
    out_console.print(
        f"[bold]{v.incident_id}[/bold] {v.title} — {v.status.value}, opened {_when(v.opened_at)}"
    )
    out_console.print(
        f"{v.alerts_count} alert(s) from {_when(v.first_alert_at)} to {_when(v.last_alert_at)}; "
        f"services: {', '.join(v.services) or '—'}; priority {v.priority}"
    )
    c = v.classification
    if c is None:
        out_console.print("Not assessed yet.")
    else:
        verdict = "MAJOR" if c.major else "not major"
        out_console.print(
            f"DORA: {verdict} ({c.rule}); classified {_when(c.classified_at)}, assessed {_when(c.assessed_at)}"
        )
        criteria = Table("criterion", "article", "met", "reason", title="Classification (RTS-C)")
        for r in c.criteria:
            criteria.add_row(r.label, r.article, "yes" if r.met else "no", r.reason)
        out_console.print(criteria)
    if v.deadlines:
        deadlines = Table(
            "report", "due", "status", "reminded", "escalated", "how", title="Deadlines (RTS-R Art. 5)"
        )
        for d in v.deadlines:
            deadlines.add_row(
                d.report, _when(d.due), d.status, _when(d.reminded_at), _when(d.escalated_at), d.explanation
            )
        out_console.print(deadlines)
    figures = Table("input", "value", "from", "how", title="Assessment inputs")
    for f in v.figures:
        figures.add_row(f.name, f.value, f.source, f.detail)
    out_console.print(figures)
    _print_actions_and_reports(v)


def _print_actions_and_reports(v: IncidentView) -> None:
    if v.actions:
        out_console.print("Containment actions (approve/reject take the id):")
        for a in v.actions:
            approvals = ", ".join(a.approvals) or "none"
            out_console.print(
                f"  {a.action_id}  {a.kind.value} {a.target.value}: {a.state.value}, requested by "
                f"{a.requested_by}, approvals: {approvals}"
                + (f", rejected by {a.rejected_by}" if a.rejected_by else "")
            )
    if v.reports:
        reports = Table("stage", "rendered", "sha256", "files", "why", title="Reports")
        for r in v.reports:
            reports.add_row(
                r.stage, _when(r.rendered_at), r.sha256[:16], "\n".join(r.files.values()), r.reason
            )
        out_console.print(reports)
    for e in v.report_errors[-3:]:
        out_console.print(f"[yellow]report not rendered:[/yellow] {e.stage} at {_when(e.at)}: {e.error}")
    for problem in v.problems:
        out_console.print(f"[yellow]note:[/yellow] {problem}")


@app.command("show")
@command
async def show_cmd(incident_id: IdArg, as_json: JsonOption = False) -> None:
    """Show an incident: classification with reasons, deadlines, figures and their sources, actions, reports."""
    view = await _load(incident_id)
    if as_json:
        print_json_line(view.model_dump(mode="json"))
        return
    _print_view(view)


@app.command(
    "update",
    help="Give facts telemetry cannot know, as FIELD=VALUE pairs. Fields: " + ", ".join(known_fields()),
)
@command
async def update_cmd(
    incident_id: IdArg,
    pairs: Annotated[
        list[str], typer.Argument(help="FIELD=VALUE pairs (lists comma-separated).", show_default=False)
    ],
    by: ByOption = None,
) -> None:
    """Give facts telemetry cannot know (costs, reputational impact, submissions ...)."""
    now = datetime.now(UTC)
    update = IncidentUpdate(by=_by(by), at=now, values=check_pairs(pairs, now))
    async with temporal_session(State.settings()) as client:
        await _signal(
            client, incident_workflow_id(incident_id), SIGNAL_UPDATE, update, f"incident {incident_id}"
        )
    err_console.print(f"sent {len(update.values)} fact(s) to {incident_id}", highlight=False)


async def _decide(incident_id: str, ref: str, decision: Decision, by: str | None, comment: str) -> None:
    view = await _load(incident_id)
    action = resolve_action(view.actions, ref)
    who = _by(by)
    choice = ApprovalDecision(decision=decision, by=who, at=datetime.now(UTC), comment=comment)
    if (why := refusal(action.requested_by, choice, action.approvals)) is not None:
        raise InputError(why, field="--by")
    async with temporal_session(State.settings()) as client:
        workflow_id = containment_workflow_id(incident_id, action.action_id)
        await _signal(client, workflow_id, SIGNAL_DECIDE, choice, f"action {action.action_id}")
    err_console.print(
        f"{decision.value} of {action.action_id} ({action.kind.value} {action.target.value}) by {who} sent",
        highlight=False,
    )


ActionArg = Annotated[
    str, typer.Argument(help="Action id (or a unique prefix, or its kind).", show_default=False)
]
CommentOption = Annotated[str, typer.Option(help="Why.")]


@app.command("approve")
@command
async def approve_cmd(
    incident_id: IdArg,
    action: ActionArg,
    by: ByOption = None,
    comment: CommentOption = "",
) -> None:
    """Approve a containment action (never your own request)."""
    await _decide(incident_id, action, Decision.APPROVE, by, comment)


@app.command("reject")
@command
async def reject_cmd(
    incident_id: IdArg,
    action: ActionArg,
    by: ByOption = None,
    comment: CommentOption = "",
) -> None:
    """Reject a containment action (the requester may withdraw their own request)."""
    await _decide(incident_id, action, Decision.REJECT, by, comment)


@app.command("report")
@command
async def report_cmd(
    incident_id: IdArg,
    stage: Annotated[str, typer.Option(help="initial, intermediate or final.")] = "initial",
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ask the incident's workflow to render a report now and print the files."""
    chosen: ReportStage | None = next((s for s in STAGES if s == stage), None)
    if chosen is None:
        raise InputError("must be initial, intermediate or final", field="--stage")
    request = RenderRequest(stage=chosen, by=_by(by), request_id=uuid.uuid4().hex)
    workflow_id = incident_workflow_id(incident_id)
    async with temporal_session(State.settings()) as client:
        await _signal(client, workflow_id, SIGNAL_RENDER, request, f"incident {incident_id}")
        outcome = await _wait_render(client, workflow_id, request.request_id)
    if isinstance(outcome, str):
        raise InputError(outcome, field=f"{incident_id} {stage}")
    if as_json:
        print_json_line(outcome.model_dump(mode="json"))
        return
    for path in outcome.files.values():
        out_console.print(path)
    err_console.print(f"{stage} report of {incident_id}, sha256 {outcome.sha256}", highlight=False)


async def _wait_render(client: Client, workflow_id: str, request_id: str) -> Any:
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(_REPORT_WAIT):
        view = IncidentView.model_validate(await handle.query(QUERY_STATE))
        done = next((r for r in view.reports if r.request_id == request_id), None)
        if done is not None:
            return done
        failed = next((e for e in view.report_errors if e.request_id == request_id), None)
        if failed is not None:
            return failed.error
        await asyncio.sleep(0.5)
    return "the workflow did not render it in time (is a worker running?)"
