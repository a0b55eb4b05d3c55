"""``vhub duplicates list|resolve``: people recorded at two hubs, and an operator's resolution."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import httpx
import nats
import typer
from rich.table import Table

from shared.envelope import hub_command_subject
from shared.hubs import central_hub
from shared.ownership import id_hub
from shared.settings import load_settings
from vhub.cli.app import NatsUrl, ReadyFile, app, console, operator_connection, read_ready_file

dup_app = typer.Typer(help="National duplicates: one person registered at two hubs (seen at central).")
app.add_typer(dup_app, name="duplicates")
ReportingUrl = Annotated[str | None, typer.Option(help="Central reporting's URL (or --ready-file).")]


@dup_app.command("list")
def list_pairs(reporting_url: ReportingUrl = None, ready_file: ReadyFile = None) -> None:
    """Every pair central has found: the registration that counts, the duplicate, resolved or not."""
    url = reporting_url or (read_ready_file(ready_file)["services"]["reporting"] if ready_file else None)
    if url is None:
        raise typer.BadParameter("give --reporting-url or --ready-file")
    body = httpx.get(f"{url}/v1/duplicates", params={"scope": "national"}, timeout=10).json()
    table = Table(title=f"national duplicates: {body['unresolved']} unresolved")
    for col in ("pair", "kind", "counts (hub, id, recorded)", "duplicate (hub, id, recorded)", "resolved"):
        table.add_column(col)
    for p in body["pairs"]:
        c, d = p["counted"], p["duplicate"]
        table.add_row(
            p["pair_id"],
            p["kind"],
            f"{c['hub']} {c['volunteer_id']} {c['recorded_at']}",
            f"{d['hub']} {d['volunteer_id']} {d['recorded_at']}",
            "yes" if p["resolved"] else "no",
        )
    console.print(table)
    console.print(
        f"active volunteers {body['active_volunteers']:,}; each person once: "
        f"{body['active_volunteers_counted_once']:,}"
    )


@dup_app.command("resolve")
def resolve(
    volunteer_id: Annotated[
        str, typer.Argument(help="The registration to withdraw (usually the duplicate).")
    ],
    nats_url: NatsUrl = None,
    ready_file: ReadyFile = None,
) -> None:
    """Withdraw one registration of a pair at the hub that owns it (``vhub.cmd.<hub>.registry.
    withdraw_volunteer``); central lists the pair as resolved once the withdrawal reaches it."""
    hub = id_hub(volunteer_id) or central_hub()
    body = {
        "volunteer_id": volunteer_id,
        "reason": "national duplicate",
        "command_id": f"resolve-duplicate-{volunteer_id}",
    }

    async def send() -> dict[str, Any]:
        if ready_file is not None:
            nc = await nats.connect(read_ready_file(ready_file)["nats_url"])
        else:
            settings = load_settings(**({"nats_url": nats_url} if nats_url else {}))
            nc = await operator_connection(settings, "vhub-duplicates")
        try:
            reply = await nc.request(
                hub_command_subject(hub, "registry", "withdraw_volunteer"),
                json.dumps(body).encode(),
                timeout=15,
            )
            answer: dict[str, Any] = json.loads(reply.data)
            return answer
        finally:
            await nc.close()

    answer = asyncio.run(send())
    if not answer.get("accepted"):
        console.print(f"[red]refused: {answer.get('code')}: {answer.get('reason')}")
        raise typer.Exit(1)
    console.print(f"withdrawn at hub {hub}: {volunteer_id} (version {answer['version']})")
