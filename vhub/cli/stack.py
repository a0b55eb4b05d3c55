"""``vhub dev`` and ``vhub demo``: the embedded stack in the foreground."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import platformdirs
import typer
from rich.table import Table

from vhub.cli.app import DataDir, HttpPort, NatsPort, ReadyFile, app, console
from vhub.client import CommandClient
from vhub.devstack import DevStack

if TYPE_CHECKING:
    from vhub.hubstack import HubStack


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


Hubs = Annotated[
    str | None,
    typer.Option(
        help="Linked hubs of deploy/hubs.toml (comma-separated, or 'all'): the central NATS server "
        "and a leaf node per hub, registry and dispatch at each, reporting at central."
    ),
]


@app.command()
def dev(
    nats_port: NatsPort = None,
    http_port: HttpPort = None,
    data_dir: DataDir = None,
    ready_file: ReadyFile = None,
    sync_always: Annotated[bool, typer.Option(help="fsync before every ack")] = True,
    hubs: Hubs = None,
) -> None:
    """Run the embedded stack in the foreground until Ctrl-C or SIGTERM."""
    if hubs:
        _run_hubs(hubs, http_port, data_dir, ready_file, demo=False, seed=0, once=False)
        return
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
    hubs: Hubs = None,
) -> None:
    """Start the embedded stack on an empty store, run the demo campaign, print the figures; keep
    serving. With ``--hubs``: across linked hubs, each province's commands sent to its hub."""
    if hubs:
        _run_hubs(hubs, http_port, _fresh_demo_dir(data_dir), ready_file, demo=True, seed=seed, once=once)
        return
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


def _run_hubs(
    hubs: str,
    http_port: int | None,
    data_dir: Path | None,
    ready_file: Path | None,
    *,
    demo: bool,
    seed: int,
    once: bool,
) -> None:
    from shared.hubs import hub_codes
    from vhub.hubstack import HubStack

    codes = list(hub_codes()) if hubs.strip() == "all" else [h.strip() for h in hubs.split(",") if h.strip()]
    stack = HubStack(_data_dir(data_dir, "hubs"), codes, http_port=http_port)
    console.print(f"[bold]vhub[/] starting hubs {', '.join(stack.hubs)} in {stack.data_dir} …")
    started = time.perf_counter()
    try:
        stack.start()
        console.print(f"ready in {time.perf_counter() - started:.1f} s")
        if ready_file:
            stack.write_ready_file(ready_file)
        _print_hubs(stack)
        if demo:
            from vhub.simulate.hubs import run_hub_demo

            ok = asyncio.run(run_hub_demo(stack, seed=seed, console=console))
            console.print(f"stack started and demo done in {time.perf_counter() - started:.1f} s")
            if not ok:
                raise typer.Exit(1)
            if once:
                return
        console.print("Ctrl-C stops everything. `vhub hub cut HUB` / `vhub hub heal HUB` cut a hub's link.")
        _wait_for_stop()
    finally:
        stack.stop()
        console.print("stopped.")


def _print_hubs(stack: HubStack) -> None:
    table = Table(title="vhub linked hubs")
    for col in ("hub", "nats", "registry", "dispatch"):
        table.add_column(col)
    for code, hs in stack.servers.items():
        table.add_row(code, hs.url, stack.procs[f"registry@{code}"].url, stack.procs[f"dispatch@{code}"].url)
    console.print(table)
    console.print(f"reporting at central: {stack.procs['reporting'].url}")
