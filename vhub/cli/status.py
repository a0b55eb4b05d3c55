"""``vhub status``: health and consumer lag of every service, as a table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.table import Table

from vhub.cli.app import app, console, read_ready_file


@app.command()
def status(ready_file: Annotated[Path, typer.Option(help="The ready file of `vhub dev`.")]) -> None:
    """Health and consumer lag of every service, as a table."""
    info = read_ready_file(ready_file)
    table = Table(title=f"vhub status ({info['nats_url']})")
    for col in ("service", "alive", "ready", "detail"):
        table.add_column(col)
    with httpx.Client(timeout=3.0) as client:
        for name, url in info["services"].items():
            try:
                alive = client.get(f"{url}/healthz").status_code == 200
                ready = client.get(f"{url}/readyz")
                detail = {k: v for k, v in ready.json().items() if k != "ready"}
                table.add_row(
                    name,
                    "yes" if alive else "no",
                    "yes" if ready.status_code == 200 else "no",
                    json.dumps(detail),
                )
            except httpx.HTTPError as err:
                table.add_row(name, "no", "no", str(err))
    console.print(table)
