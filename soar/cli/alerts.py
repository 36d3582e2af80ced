"""``soar alerts list``: the newest alerts written by the detection engine."""

from __future__ import annotations

from typing import Annotated

import typer
from elasticsearch import ApiError, NotFoundError
from rich.table import Table

from soar.cli.common import State, command, out_console, print_json_line
from soar.detect.alerts import alerts_index
from soar.engines.search import search_error
from soar.engines.session import search_session

app = typer.Typer(help="Read the alerts the detection engine wrote.", no_args_is_help=True)


@app.command("list")
@command
async def list_alerts(
    limit: Annotated[int, typer.Option(help="How many alerts, newest first.")] = 50,
    severity: Annotated[
        str | None, typer.Option(help="Only this severity (low, medium, high, critical).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per alert.")] = False,
) -> None:
    """List the newest alerts (building blocks are left out unless a severity is asked for)."""
    settings = State.settings()
    filters: list[dict[str, object]] = [{"term": {"soar.alert.building_block": False}}]
    if severity is not None:
        filters = [{"term": {"soar.alert.severity": severity.lower()}}]
    async with search_session(settings) as search:
        try:
            response = await search.es.search(
                index=alerts_index(settings.namespace),
                query={"bool": {"filter": filters}},
                sort=[{"@timestamp": "desc"}, {"soar.alert.original_time": "desc"}],
                size=limit,
            )
        except NotFoundError:
            hits = []
        except ApiError as exc:
            raise search_error(exc, "reading alerts") from None
        else:
            hits = response["hits"]["hits"]
    if json_out:
        for hit in hits:
            print_json_line({"_id": hit["_id"], **hit["_source"]})
        return
    table = Table("time", "severity", "rule", "source", "hand-over")
    for hit in hits:
        alert = hit["_source"]["soar"]["alert"]
        source = f"{alert['source']['index']}/{alert['source']['id'][:12]}"
        table.add_row(
            str(alert.get("original_time")),
            alert["severity"],
            alert["rule"]["name"],
            source,
            alert["handover"]["status"],
        )
    out_console.print(table)
