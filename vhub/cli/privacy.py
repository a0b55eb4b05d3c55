"""``vhub erase``, ``vhub export``, ``vhub pii erasures|migrate``: the data subject's rights and
the operator's privacy tools (issue 12). Erasure and export are registry commands (the registry
alone holds the keys); the report and the migration read the log as the operator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

import typer
from nats.aio.client import Client
from rich.table import Table

from services.registry.erasures import erasure_report
from services.registry.keystore import KeyStore
from services.registry.migrate import migrate
from services.registry.sealing import PersonalCodec, keyed
from shared.settings import Settings, load_settings
from vhub.cli.app import NatsUrl, app, console, operator_connection
from vhub.client import CommandClient

pii_app = typer.Typer(
    help="Personal data: the erasure report, migrating a plaintext log.", no_args_is_help=True
)
app.add_typer(pii_app, name="pii")
Hub = Annotated[str | None, typer.Option(help="The owning hub (default VHUB_HUB).")]
Reason = Literal["consent_withdrawn", "subject_request", "legal_order"]
T = TypeVar("T")


def _run(nats_url: str | None, hub: str | None, job: Callable[[Client, Settings], Awaitable[T]]) -> T:
    settings = load_settings(**{k: v for k, v in (("nats_url", nats_url), ("hub", hub)) if v})

    async def go() -> T:
        nc = await operator_connection(settings, "vhub-pii")
        try:
            return await job(nc, settings)
        finally:
            await nc.drain()

    return asyncio.run(go())


def _command(nats_url: str | None, hub: str | None, name: str, body: dict[str, Any]) -> dict[str, Any]:
    async def job(nc: Client, _: Settings) -> dict[str, Any]:
        return await CommandClient(nc, timeout=30).send("registry", name, body)

    reply = _run(nats_url, hub, job)
    if not reply.get("accepted"):
        console.print(f"[red]refused[/] {reply.get('code')}: {reply.get('reason')}")
        raise typer.Exit(1)
    return reply


def _keys(nc: Client, settings: Settings) -> KeyStore:
    return KeyStore.of(nc.jetstream(), settings)


@app.command()
def erase(
    volunteer_id: Annotated[str, typer.Argument(help="The volunteer to erase.")],
    reason: Annotated[Reason, typer.Option(help="Why: consent_withdrawn, subject_request or legal_order.")],
    nats_url: NatsUrl = None,
    hub: Hub = None,
) -> None:
    """Erase a volunteer's personal data (their key is deleted at the owning hub); they leave their
    team and their phone can register again. Figures are kept."""
    reply = _command(nats_url, hub, "erase_volunteer", {"volunteer_id": volunteer_id, "reason": reason})
    again = " (already erased)" if reply.get("duplicate") or not reply.get("events") else ""
    console.print(f"erased {volunteer_id}: {reason}, key deleted, log position {reply['version']}{again}")


@app.command("export")
def export_volunteer(
    volunteer_id: Annotated[str, typer.Argument(help="The volunteer whose data to export.")],
    nats_url: NatsUrl = None,
    hub: Hub = None,
) -> None:
    """One volunteer's personal data and history as JSON (the data subject's right of access)."""
    reply = _command(nats_url, hub, "export_volunteer", {"volunteer_id": volunteer_id})
    typer.echo(json.dumps(reply["result"], ensure_ascii=False, indent=2))


@pii_app.command("erasures")
def erasures(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    nats_url: NatsUrl = None,
    hub: Hub = None,
) -> None:
    """The erasure report: every erasure of the hub, when, why, by whom, and whether the key is
    gone (no personal data: there is none left to show)."""

    async def job(nc: Client, s: Settings) -> list[dict[str, Any]]:
        found = await erasure_report(nc.jetstream(), s.event_stream, s.hub, _keys(nc, s))
        return [e.as_dict() for e in found]

    rows = _run(nats_url, hub, job)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    table = Table(title=f"{len(rows)} erasures", title_justify="left")
    for col in ("volunteer_id", "reason", "erased_at", "seq", "actor", "key_deleted"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            *(str(row[c]) for c in ("volunteer_id", "reason", "erased_at", "seq", "actor", "key_deleted"))
        )
    console.print(table)


@pii_app.command("migrate")
def migrate_log(
    target: Annotated[str, typer.Argument(help="The new stream (e.g. VHUB_EVT_HN_SEALED).")],
    source: Annotated[str | None, typer.Option(help="The old stream (default the hub's).")] = None,
    nats_url: NatsUrl = None,
    hub: Hub = None,
) -> None:
    """Copy the hub's log into a new stream with every plaintext personal field sealed (erased
    volunteers' dropped), same subjects and sequences; docs/operating.md says how to swap it in."""

    async def job(nc: Client, s: Settings) -> str:
        codec = PersonalCodec(_keys(nc, s), keyed(s.pii_key.get_secret_value().encode()))
        done = await migrate(nc.jetstream(), codec, hub=s.hub, source=source or s.event_stream, target=target)
        return (
            f"copied {done.copied} messages to {target} (last seq {done.last_seq}): "
            f"{done.sealed} sealed, {done.stripped} of erased volunteers stripped"
        )

    console.print(_run(nats_url, hub, job))
