"""``vhub explain``: the events behind a figure the reporting API serves, as a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from vhub.cli.app import app, console, read_ready_file


@app.command()
def explain(
    figure: Annotated[str, typer.Argument(help="A counted figure, e.g. people_supported.")],
    province: Annotated[str | None, typer.Option(help="Province code.")] = None,
    commune: Annotated[str | None, typer.Option(help="Commune code.")] = None,
    day: Annotated[str | None, typer.Option(help="One local date (YYYY-MM-DD); default every day.")] = None,
    page: Annotated[int, typer.Option(help="Which page of events.")] = 1,
    page_size: Annotated[int, typer.Option(help="Events per page (at most 500).")] = 50,
    reporting_url: Annotated[str | None, typer.Option(help="Reporting API base URL.")] = None,
    ready_file: Annotated[Path | None, typer.Option(help="The ready file of `vhub dev`.")] = None,
) -> None:
    """Drill a figure down to its events (GET /v1/provenance): each event's hub, stream sequence,
    type, ids, time and contribution, and their sum beside the figure served."""
    if ready_file is not None:
        reporting_url = reporting_url or read_ready_file(ready_file)["services"].get("reporting")
    if not reporting_url:
        raise typer.BadParameter("give --reporting-url or --ready-file")
    params: dict[str, Any] = {"figure": figure, "page": page, "page_size": page_size}
    params.update({k: v for k, v in (("province", province), ("commune", commune)) if v})
    if day:
        params["from"] = params["to"] = day
    resp = httpx.get(f"{reporting_url.rstrip('/')}/v1/provenance", params=params, timeout=30)
    if resp.status_code != 200:
        console.print(f"[red]{resp.status_code}[/] {resp.text}")
        raise typer.Exit(1)
    body = resp.json()
    place = f"{body['level']} {body['code']}".strip()
    days = f"{body['from']}..{body['to']}" if body["from"] else "every day"
    typer.echo(  # one unwrapped line: scripts may read it
        f"{body['figure']} at {place}, {days}: served {body['served']:,}, sum of {body['events']:,} "
        f"events {body['sum']:,} (position {body['freshness']['position']:,}, page {body['page']})"
    )
    console.print(_table(body))


def _table(body: dict[str, Any]) -> Table:
    t = Table()
    for col in ("hub", "seq", "day", "commune", "event type", "event id", "command id", "recorded at"):
        t.add_column(col)
    t.add_column("contribution", justify="right")
    for i in body["items"]:
        t.add_row(
            i["hub"],
            str(i["stream_sequence"]),
            i["day"],
            i["commune_code"],
            i["event_type"],
            i["event_id"],
            i["command_id"],
            i["recorded_at"] or "",
            f"{i['contribution']:+,}",
        )
    return t
