"""Rebuilds beside the live tables while events keep arriving, then an atomic switch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from nats.aio.client import Client
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting import models as m
from services.reporting.app import ReportingApp
from services.reporting.cli import rebuild_command
from services.reporting.db import make_engine
from services.reporting.rebuild import Progress, rebuild
from services.reporting.store import CHECKPOINT, ReportingStore
from shared.envelope import event_subject
from shared.eventstore import EventStore
from shared.hosting import hosted
from shared.settings import Settings
from tests.integration.reporting.campaign import generate
from tests.integration.reporting.conftest import publish
from tests.integration.reporting.expected import expected_view
from tests.integration.reporting.observe import observed_view
from tests.integration.reporting.test_projection import DAYS, PROVINCES
from tests.support.waiting import eventually


class HeldStore(ReportingStore):
    """A rebuild's store that may not switch before the producer is done: a rebuild faster than
    the producer's first append would otherwise switch before any event arrived during it."""

    def __init__(self, engine: AsyncEngine, produced: asyncio.Event) -> None:
        super().__init__(engine)
        self._produced = produced

    async def try_switch(self, owner: str, now: datetime) -> bool:
        return self._produced.is_set() and await super().try_switch(owner, now)


@pytest.fixture
async def service(rsettings: Settings) -> AsyncIterator[ReportingApp]:
    settings = rsettings.model_copy(update={"reporting_batch_size": 100})
    async with hosted(settings, "reporting", ReportingApp) as svc:
        yield svc


async def test_rebuild_while_events_arrive_ends_equal(
    service: ReportingApp, store: EventStore, nc: Client, rsettings: Settings
) -> None:
    """Given a live projection and a producer still appending, when a rebuild runs, then the API
    answers throughout, the rebuilt colour goes live, and every figure equals the fold."""
    log = generate(rsettings.hub, volunteers=500, teams=50, days=5, seed=11)
    first, second = len(log) // 3, 2 * len(log) // 3
    last_seq: dict[str, int] = {}
    await publish(store, log[:first], last_seq)
    seen: list[Progress] = []
    engine = make_engine(rsettings.database_url, writer=True)
    statuses: list[int] = []
    produced = asyncio.Event()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.server.port}") as http:
        rebuilding = asyncio.create_task(
            rebuild(
                nc.jetstream(),
                HeldStore(engine, produced),
                stream=rsettings.read_stream,
                batch_size=200,
                progress=seen.append,
            )
        )

        async def started() -> bool:
            return bool(seen) or rebuilding.done()

        # the producer starts only once the rebuild has begun, so events surely arrive during it
        await eventually(started, "rebuild started", 30)

        async def produce() -> None:
            await publish(store, log[first:second], last_seq)
            produced.set()

        producing = asyncio.create_task(produce())
        while not rebuilding.done():
            statuses.append((await http.get("/v1/summary")).status_code)
        switched = await rebuilding
        await producing
        last = await publish(store, log[second:], last_seq)  # after the switch: live, green

        async def caught_up() -> bool:
            return (await service.store.position()).position >= last

        await eventually(caught_up, "live projection caught up after the switch", 30)
        observed = await observed_view(http, PROVINCES, DAYS)
    await engine.dispose()
    assert switched.colour == "green"
    assert seen[0].total < switched.position  # events kept arriving while it rebuilt
    assert (await service.store.position()).colour == "green"
    assert statuses
    assert set(statuses) == {200}
    assert seen
    assert seen[-1].rate > 0
    assert seen[-1].eta_s is not None
    assert observed == expected_view(log, PROVINCES, DAYS)


async def test_cli_rebuild_twice_swaps_colours_and_keeps_figures(
    service: ReportingApp, store: EventStore, rsettings: Settings
) -> None:
    """`vhub rebuild` (the CLI function with its progress bar) swaps colours each time and the
    figures stay exactly those of the log."""
    log = generate(rsettings.hub, volunteers=80, teams=8, days=2, seed=5)
    last = await publish(store, log)

    async def caught_up() -> bool:
        return (await service.store.position()).position >= last

    await eventually(caught_up, "live projection caught up", 30)
    first = await asyncio.to_thread(rebuild_command, None, rsettings)
    second = await asyncio.to_thread(rebuild_command, "reporting", rsettings)
    assert (first.colour, second.colour) == ("green", "blue")
    assert second.position == last
    with pytest.raises(ValueError, match="unknown projection"):
        rebuild_command("nope", rsettings)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.server.port}") as http:
        observed = await observed_view(http, PROVINCES, DAYS)
    assert observed == expected_view(log, PROVINCES, DAYS)


async def _table_rows(engine: AsyncEngine, colour: m.Colour) -> dict[str, list[tuple[Any, ...]]]:
    async with engine.connect() as conn:
        out = {}
        for name, table in m.TABLES[colour].items():
            rows = (await conn.execute(select(table))).all()
            out[name] = sorted((tuple(r) for r in rows), key=repr)
        return out


async def test_rebuilt_tables_equal_the_live_ones_row_for_row(
    service: ReportingApp, store: EventStore, nc: Client, rsettings: Settings
) -> None:
    """Given a log the live projection has applied (poison included), when a rebuild reads it in
    small pulls and commits in several groups, then every table of the new colour holds exactly
    the live colour's rows, and both checkpoints agree (position, events applied, dead letters)."""
    js = nc.jetstream()
    bad = event_subject(rsettings.hub, "registry", "volunteer", "bad")
    log = generate(rsettings.hub, volunteers=300, teams=30, days=4, seed=3)
    last_seq: dict[str, int] = {}
    await publish(store, log[:500], last_seq)
    await js.publish(bad, b"{not json", stream=rsettings.event_stream)
    last = await publish(store, log[500:], last_seq)

    async def caught_up() -> bool:
        return (await service.store.position()).position >= last

    await eventually(caught_up, "live projection caught up", 60)
    engine = make_engine(rsettings.database_url, writer=True)
    try:
        switched = await rebuild(
            js, ReportingStore(engine), stream=rsettings.read_stream, batch_size=97, commit_size=450
        )
        assert (switched.colour, switched.position) == ("green", last)
        live, rebuilt = await _table_rows(engine, "blue"), await _table_rows(engine, "green")
        async with engine.connect() as conn:
            checkpoints = {
                r.colour: (r.position, r.last_event_at, r.events_applied, r.dead_lettered)
                for r in await conn.execute(select(CHECKPOINT))
            }
    finally:
        await engine.dispose()
    assert sum(len(rows) for rows in live.values()) > 1_000
    for name in live:
        assert rebuilt[name] == live[name], name
    assert checkpoints["green"] == checkpoints["blue"]
    assert checkpoints["green"][3] == 1
