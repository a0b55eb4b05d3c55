"""``vhub provision``, ``vhub import …`` and ``vhub rebuild``: streams, operator data, read models."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from shared.settings import load_settings
from vhub.cli.app import NatsUrl, app, console, nats_url_or_default
from vhub.client import CommandClient

import_app = typer.Typer(help="Load operator data through the public command API.")
app.add_typer(import_app, name="import")


@app.command()
def provision(
    nats_url: NatsUrl = None,
    central_hubs: Annotated[
        str | None,
        typer.Option(
            help="Hubs whose streams VHUB_CENTRAL sources (comma-separated, or none); default: every "
            "hub of deploy/hubs.toml at the central hub, none elsewhere."
        ),
    ] = None,
) -> None:
    """Create or update this hub's streams (event log, ingest, dead letters) and create the
    consumers the services read through (they may not create their own)."""
    from shared.hubs import central_sources
    from shared.runtime import connect_nats
    from shared.streams import provision as provision_streams

    settings = load_settings(**({"nats_url": nats_url} if nats_url else {}))

    async def go() -> None:
        nc = await connect_nats(settings, "vhub-provision")
        try:
            js = nc.jetstream()
            await provision_streams(js, settings, central_sources=central_sources(central_hubs, settings.hub))
        finally:
            await nc.drain()

    asyncio.run(go())
    console.print(f"streams of hub {settings.hub} provisioned")


@import_app.command("border-communes")
def import_border_communes(file: Path, nats_url: NatsUrl = None, column: str = "commune_code") -> None:
    """Designate the campaign's border communes from a CSV (a commune_code column)."""
    codes = _read_column(file, column)
    reply = asyncio.run(
        _send(
            nats_url,
            "designate_border_communes",
            {"commune_codes": codes},
            f"import-border-{file.name}-{len(codes)}",
        )
    )
    _print_reply(reply)


@import_app.command("service-points")
def import_service_points(file: Path, nats_url: NatsUrl = None) -> None:
    """Register service points from a CSV with name, kind, province_code, commune_code."""
    with file.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))

    async def go() -> list[dict[str, Any]]:
        client = await CommandClient.connect(nats_url_or_default(nats_url))
        try:
            return [
                await client.send(
                    "registry",
                    "register_service_point",
                    {k: row[k] for k in ("name", "kind", "province_code", "commune_code")},
                    command_id=f"import-point-{row.get('id') or i}",
                )
                for i, row in enumerate(rows)
            ]
        finally:
            await client.close()

    replies = asyncio.run(go())
    accepted = sum(r["accepted"] for r in replies)
    console.print(f"{accepted} of {len(replies)} service points recorded")
    for i, r in enumerate(replies):
        if not r["accepted"]:
            console.print(f"[red]row {i + 1} refused[/] {r['code']}: {r['reason']}")
    if accepted < len(replies):
        raise typer.Exit(1)


@app.command()
def rebuild(projection: Annotated[str | None, typer.Argument()] = None) -> None:
    """Rebuild read models from sequence 1 beside the live ones, then switch atomically."""
    from services.reporting.cli import rebuild_command

    rebuild_command(projection, load_settings())


def _read_column(file: Path, column: str) -> list[str]:
    with file.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or column not in reader.fieldnames:
            raise typer.BadParameter(f"{file} has no {column!r} column")
        return [row[column].strip() for row in reader if row[column].strip()]


async def _send(nats_url: str | None, name: str, body: dict[str, Any], command_id: str) -> dict[str, Any]:
    client = await CommandClient.connect(nats_url_or_default(nats_url))
    try:
        return await client.send("registry", name, body, command_id=command_id)
    finally:
        await client.close()


def _print_reply(reply: dict[str, Any]) -> None:
    if reply["accepted"]:
        console.print(
            f"[green]accepted[/] {reply['aggregate_id']} at {reply['version']}"
            f" {json.dumps(reply.get('result') or {})}"
        )
    else:
        console.print(f"[red]refused[/] {reply['code']}: {reply['reason']}")
        raise typer.Exit(1)
