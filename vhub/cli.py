"""``vhub``: the one command line of the project (typer + rich)."""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import json
import shutil
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import httpx
import platformdirs
import typer
from rich.console import Console
from rich.table import Table

from shared.logging import configure_logging
from shared.settings import load_settings
from vhub.client import CommandClient
from vhub.devstack import DevStack

app = typer.Typer(help="vhub: the youth-volunteer campaign hub.", no_args_is_help=True)
import_app = typer.Typer(help="Load operator data through the public command API.")
app.add_typer(import_app, name="import")
console = Console()

NatsPort = Annotated[
    int | None, typer.Option(help="NATS port (default 4222, or a free one when taken; 0: any free port).")
]
HttpPort = Annotated[int | None, typer.Option(help="First HTTP port (default 8080, next ones up).")]
DataDir = Annotated[Path | None, typer.Option(help="JetStream store and SQLite files.")]
ReadyFile = Annotated[Path | None, typer.Option(help="Write NATS and service URLs here once ready.")]
NatsUrl = Annotated[str | None, typer.Option(help="NATS URL (default: VHUB_NATS_URL).")]


def _data_dir(data_dir: Path | None, kind: str = "dev") -> Path:
    return data_dir or Path(platformdirs.user_data_dir("vhub")) / kind


def _fresh_demo_dir(data_dir: Path | None) -> Path:
    """The demo replays a seeded campaign, so it needs an empty store: on a store that already
    holds it, every command would be a duplicate and every figure would add nothing. Its default
    directory is its own and is emptied; a directory you name must be empty."""
    if data_dir is None:
        path = _data_dir(None, "demo")
        shutil.rmtree(path, ignore_errors=True)
        return path
    if data_dir.exists() and any(data_dir.iterdir()):
        console.print(f"[red]vhub demo needs an empty --data-dir; {data_dir} holds files[/]")
        raise typer.Exit(2)
    return data_dir


def _start_stack(
    nats_port: int | None, http_port: int | None, data_dir: Path | None, sync_always: bool
) -> DevStack:
    stack = DevStack(_data_dir(data_dir), nats_port=nats_port, http_port=http_port, sync_always=sync_always)
    console.print(f"[bold]vhub[/] starting in {stack.data_dir} …")
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    return stack


def _print_stack(stack: DevStack) -> None:
    table = Table(title="vhub embedded stack")
    table.add_column("part")
    table.add_column("address")
    table.add_row("nats-server", stack.nats_url)
    for name, sp in stack.procs.items():
        table.add_row(name, sp.url)
    console.print(table)


def _wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


@app.command()
def dev(
    nats_port: NatsPort = None,
    http_port: HttpPort = None,
    data_dir: DataDir = None,
    ready_file: ReadyFile = None,
    sync_always: Annotated[bool, typer.Option(help="fsync before every ack")] = True,
) -> None:
    """Run the embedded stack in the foreground until Ctrl-C or SIGTERM."""
    stack = _start_stack(nats_port, http_port, data_dir, sync_always)
    try:
        if ready_file:
            stack.write_ready_file(ready_file)
        _print_stack(stack)
        console.print("Ctrl-C stops everything.")
        _wait_for_stop()
    finally:
        stack.stop()
        console.print("stopped.")


@app.command()
def demo(
    once: Annotated[bool, typer.Option(help="Exit after the demo instead of serving.")] = False,
    nats_port: NatsPort = None,
    http_port: HttpPort = None,
    data_dir: DataDir = None,
    ready_file: ReadyFile = None,
    seed: int = 2025,
) -> None:
    """Start the embedded stack on an empty store, run the demo campaign, print the figures; keep
    serving."""
    stack = _start_stack(nats_port, http_port, _fresh_demo_dir(data_dir), True)
    try:
        if ready_file:
            stack.write_ready_file(ready_file)
        ok = asyncio.run(_demo_job(stack, seed))
        _print_stack(stack)
        if not ok:
            raise typer.Exit(1)
        if not once:
            console.print("Serving until Ctrl-C.")
            _wait_for_stop()
    finally:
        stack.stop()


async def _demo_job(stack: DevStack, seed: int) -> bool:
    reporting = stack.procs.get("reporting")
    if importlib.util.find_spec("vhub.simulate") is not None and reporting is not None:
        from vhub.simulate import run_demo  # the launch-week scenario, once it exists

        return await run_demo(stack.nats_url, reporting.url, seed=seed, console=console)
    from vhub.demo import run_registry_demo

    client = await CommandClient.connect(stack.nats_url)
    try:
        replies = await run_registry_demo(client, console)
    finally:
        await client.close()
    return all(r["accepted"] or r["code"] == "duplicate_volunteer" for r in replies)


@app.command()
def provision(
    nats_url: NatsUrl = None,
    central_hubs: Annotated[
        str | None, typer.Option(help="At central: comma-separated hubs whose streams VHUB_CENTRAL sources.")
    ] = None,
) -> None:
    """Create or update this hub's streams (event log, ingest, dead letters)."""
    from shared.runtime import connect_nats
    from shared.streams import central_stream_config, ensure_stream
    from shared.streams import provision as provision_streams

    settings = load_settings(**({"nats_url": nats_url} if nats_url else {}))

    async def go() -> None:
        nc = await connect_nats(settings, "vhub-provision")
        try:
            js = nc.jetstream()
            await provision_streams(js, settings)
            if central_hubs:
                hubs = [h.strip() for h in central_hubs.split(",") if h.strip()]
                await ensure_stream(
                    js, central_stream_config(settings, hubs, "VHUB_CENTRAL", local_hub=settings.hub)
                )
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
        client = await CommandClient.connect(_nats_url(nats_url))
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
def status(ready_file: Annotated[Path, typer.Option(help="The ready file of `vhub dev`.")]) -> None:
    """Health and consumer lag of every service, as a table."""
    info = json.loads(ready_file.read_text())
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


@app.command()
def simulate(
    scenario: Annotated[str, typer.Option(help="launch-week or campaign")] = "launch-week",
    scale: Annotated[float, typer.Option(help="campaign size (1.0 ≈ 100,000 volunteers)")] = 1.0,
    seed: int = 2025,
    concurrency: Annotated[int, typer.Option(help="commands in flight")] = 64,
    ready_file: Annotated[Path | None, typer.Option(help="The ready file of `vhub dev`.")] = None,
    nats_url: NatsUrl = None,
    reporting_url: Annotated[str | None, typer.Option(help="Reporting API base URL.")] = None,
) -> None:
    """Drive a running stack with a seeded campaign through the public commands, then check
    every figure the reporting API gives against the simulator's own ground truth."""
    from vhub.simulate import SCENARIOS, run_scenario

    if scenario not in SCENARIOS:
        raise typer.BadParameter(f"scenario must be one of {', '.join(SCENARIOS)}")
    if ready_file is not None:
        info = json.loads(ready_file.read_text())
        nats_url = nats_url or info["nats_url"]
        reporting_url = reporting_url or info["services"].get("reporting")
    if not reporting_url:
        raise typer.BadParameter("give --ready-file or --reporting-url")
    report = asyncio.run(
        run_scenario(_nats_url(nats_url), reporting_url, scenario, scale, seed, concurrency, console=console)
    )
    console.print(report.table())
    if report.headlines:
        console.print(report.headline_table())
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def rebuild(projection: Annotated[str | None, typer.Argument()] = None) -> None:
    """Rebuild read models from sequence 1 beside the live ones, then switch atomically."""
    from services.reporting.cli import rebuild_command

    rebuild_command(projection, load_settings())


def _nats_url(nats_url: str | None) -> str:
    return nats_url or load_settings().nats_url


def _read_column(file: Path, column: str) -> list[str]:
    with file.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or column not in reader.fieldnames:
            raise typer.BadParameter(f"{file} has no {column!r} column")
        return [row[column].strip() for row in reader if row[column].strip()]


async def _send(nats_url: str | None, name: str, body: dict[str, Any], command_id: str) -> dict[str, Any]:
    client = await CommandClient.connect(_nats_url(nats_url))
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


def main() -> None:
    configure_logging("console", "warning")
    app()


if __name__ == "__main__":
    main()
