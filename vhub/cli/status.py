"""``vhub status``: every instance at every hub, found through ``$SRV``, as one table.

Exit code 1 when any instance is unhealthy or an expected service has no instance, so scripts
and probes can use it; ``--json`` prints the rows instead of the table; ``--watch`` redraws it.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from nats.aio.client import Client
from rich.live import Live
from rich.table import Table

from shared.settings import Settings, load_settings
from shared.survey import EXPECTED, Instance, Row, rows, survey
from vhub.cli.app import NatsUrl, app, console, operator_connection, read_ready_file

Expect = Annotated[
    list[str] | None,
    typer.Option(help="A service that must have an instance: NAME or NAME@HUB (repeat; default all three)."),
]


@app.command()
def status(
    nats_url: NatsUrl = None,
    ready_file: Annotated[Path | None, typer.Option(help="The ready file of `vhub dev`.")] = None,
    watch: Annotated[bool, typer.Option(help="Redraw the table every --interval seconds.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between the two samples rates come from.")] = 1.0,
    expect: Expect = None,
    max_error_rate: Annotated[float, typer.Option(help="An instance failing more is unhealthy.")] = 0.05,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for $SRV answers.")] = 2.0,
) -> None:
    """Health, rates, lag and dead letters of every service instance at every hub."""
    supervisor: Path | None = None
    if ready_file is not None:
        info = read_ready_file(ready_file)
        nats_url = nats_url or info["nats_url"]
        if info.get("data_dir"):  # `vhub dev` supervises its services and writes their restarts here
            supervisor = Path(info["data_dir"]) / "supervisor.json"
    settings = load_settings(**({"nats_url": nats_url} if nats_url else {}))
    job = _Status(expect or list(EXPECTED), max_error_rate, timeout, interval, supervisor)
    healthy = asyncio.run(job.run(settings, watch=watch, as_json=as_json))
    if not healthy:
        raise typer.Exit(1)


class _Status:
    def __init__(
        self,
        expect: list[str],
        max_error_rate: float,
        timeout: float,
        interval: float,
        supervisor: Path | None,
    ) -> None:
        self._expect = expect
        self._max_error_rate = max_error_rate
        self._timeout = timeout
        self._interval = interval
        self._supervisor = supervisor

    async def run(self, settings: Settings, *, watch: bool, as_json: bool) -> bool:
        nc = await operator_connection(settings, "vhub-status")
        try:
            before, at = await self._sample(nc)
            await asyncio.sleep(self._interval)  # the sampling window rates are measured over
            found, at2 = await self._sample(nc)
            table = self._rows(before, found, at2 - at)
            if watch:
                return await self._watch(nc, found, at2, table, settings.nats_url)
            if as_json:
                typer.echo(json.dumps([r.as_dict() for r in table], ensure_ascii=False, indent=2))
            else:
                console.print(self._table(table, settings.nats_url))
            return all(r.healthy for r in table)
        finally:
            await nc.drain()

    async def _watch(self, nc: Client, last: list[Instance], at: float, table: list[Row], url: str) -> bool:
        with Live(self._table(table, url), console=console, auto_refresh=False) as live:
            try:
                while True:
                    await asyncio.sleep(self._interval)  # the refresh period
                    found, now = await self._sample(nc)
                    table = self._rows(last, found, now - at)
                    last, at = found, now
                    live.update(self._table(table, url), refresh=True)
            except (KeyboardInterrupt, asyncio.CancelledError):
                pass
        return all(r.healthy for r in table)

    async def _sample(self, nc: Client) -> tuple[list[Instance], float]:
        found = await survey(nc, within=self._timeout)
        return found, time.monotonic()

    def _rows(self, before: list[Instance], after: list[Instance], seconds: float) -> list[Row]:
        return rows(before, after, seconds, expected=self._expect, max_error_rate=self._max_error_rate)

    def _restarts(self) -> dict[str, int]:
        """Restarts per service from `vhub dev`'s supervisor file, when there is one."""
        if self._supervisor is None or not self._supervisor.exists():
            return {}
        try:
            services = json.loads(self._supervisor.read_text()).get("services") or {}
        except ValueError:  # caught mid-write by a non-atomic writer: no figure this time
            return {}
        return {name: int(s.get("restarts", 0)) for name, s in services.items()}

    def _table(self, table: list[Row], url: str) -> Table:
        restarts = self._restarts()
        sick = sum(not r.healthy for r in table)
        title = f"vhub status ({url}): {len(table) - sick} healthy, {sick} unhealthy"
        out = Table(title=title, title_justify="left")
        columns = ["service", "hub", "instance", "version", "uptime", "cmd/s", "errors", "lag", "DLQ"]
        if restarts:
            columns.append("restarts")
        for col in columns:
            out.add_column(col, no_wrap=True)
        out.add_column("health", min_width=24, overflow="fold")
        for r in table:
            cells = [
                r.service,
                r.hub,
                r.instance,
                r.version,
                _duration(r.uptime_s),
                "-" if r.commands_per_s is None else f"{r.commands_per_s:,.1f}",
                "-" if r.error_rate is None else f"{r.error_rate:.1%}",
                "-" if r.lag is None else f"{r.lag:,}",
                "-" if r.dead_letters is None else f"{r.dead_letters:,}",
            ]
            if restarts:
                cells.append(str(restarts.get(r.service, "-")))
            health = "[green]ok[/]" if r.healthy else f"[red]UNHEALTHY[/]: {r.reason}"
            out.add_row(*cells, health)
        return out


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s < 86400 else f"{s // 86400}d{s % 86400 // 3600:02d}h"
