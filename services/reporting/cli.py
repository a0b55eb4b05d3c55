"""``vhub rebuild [projection]``: mounted by the project's ``vhub`` CLI (vhub/cli/data.py)."""

from __future__ import annotations

import asyncio

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from services.reporting import models as m
from services.reporting.db import make_engine
from services.reporting.rebuild import Progress as RebuildProgress
from services.reporting.rebuild import rebuild
from services.reporting.store import Position, ReportingStore
from shared.runtime import connect_nats
from shared.settings import Settings

PROJECTIONS = (m.PROJECTION,)


def rebuild_command(projection: str | None, settings: Settings) -> Position:
    """Rebuild ``projection`` (default: every reporting projection) with a progress bar showing
    events/s and ETA; the API keeps answering from the live tables until the switch."""
    name = projection or m.PROJECTION
    if name not in PROJECTIONS:
        raise ValueError(f"unknown projection {name!r}; known: {', '.join(PROJECTIONS)}")
    return asyncio.run(_rebuild(name, settings))


async def _rebuild(name: str, settings: Settings) -> Position:
    nc = await connect_nats(settings, "vhub-rebuild")
    engine = make_engine(settings.database_url, writer=True)
    columns = (
        TextColumn("[bold]rebuild {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10,.0f} events/s"),
        TextColumn("ETA {task.fields[eta]}"),
        TimeElapsedColumn(),
    )
    try:
        store = ReportingStore(engine, name, hub=settings.hub)
        await store.create_schema()
        with Progress(*columns) as bar:
            task = bar.add_task(name, total=None, rate=0.0, eta="?")

            def show(p: RebuildProgress) -> None:
                eta = f"{p.eta_s:,.0f}s" if p.eta_s is not None else "?"
                bar.update(task, completed=p.position, total=p.total, rate=p.rate, eta=eta)

            at = await rebuild(nc.jetstream(), store, stream=settings.read_stream, progress=show)
            bar.update(task, completed=at.position, total=max(at.position, 1), eta="0s")
        return at
    finally:
        await engine.dispose()
        await nc.drain()
