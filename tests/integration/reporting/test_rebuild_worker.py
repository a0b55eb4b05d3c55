"""The rebuild's fold worker: a child process that ends with the rebuild, and fails it if it dies."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from multiprocessing.process import BaseProcess

import pytest
from nats.aio.client import Client

from services.reporting.db import make_engine
from services.reporting.fold_worker import FoldWorkerError
from services.reporting.rebuild import Progress, rebuild
from services.reporting.store import ReportingStore
from shared.eventstore import EventStore
from shared.settings import Settings
from tests.integration.reporting.campaign import generate
from tests.integration.reporting.conftest import publish

WORKER = "vhub-rebuild-fold"


def _workers() -> list[BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == WORKER]


async def test_a_rebuild_leaves_no_worker_behind(store: EventStore, nc: Client, rsettings: Settings) -> None:
    """Given a log, when a rebuild runs to its switch, then its fold worker ran during it and is
    gone after it."""
    last = await publish(store, generate(rsettings.hub, volunteers=60, teams=6, days=2, seed=2))
    seen: list[int] = []

    def watch(_: Progress) -> None:
        seen.extend(p.pid or 0 for p in _workers())

    engine = make_engine(rsettings.database_url, writer=True)
    try:
        reporting = ReportingStore(engine)
        await reporting.create_schema()
        switched = await rebuild(nc.jetstream(), reporting, stream=rsettings.read_stream, progress=watch)
    finally:
        await engine.dispose()
    assert switched.position == last
    assert seen
    assert not _workers()


async def test_a_worker_that_dies_fails_the_rebuild_clearly(
    store: EventStore, nc: Client, rsettings: Settings
) -> None:
    """Given a rebuild whose fold worker is killed after the first part, when the rebuild goes on,
    then it fails with FoldWorkerError (no hang), no worker is left, and the live colour stays."""
    await publish(store, generate(rsettings.hub, volunteers=120, teams=12, days=2, seed=4))
    killed: list[int] = []

    def kill(_: Progress) -> None:
        for worker in _workers():
            if worker.pid and not killed:
                os.kill(worker.pid, signal.SIGKILL)
                killed.append(worker.pid)

    engine = make_engine(rsettings.database_url, writer=True)
    try:
        reporting = ReportingStore(engine)
        await reporting.create_schema()
        with pytest.raises(FoldWorkerError):
            await asyncio.wait_for(
                rebuild(
                    nc.jetstream(),
                    reporting,
                    stream=rsettings.read_stream,
                    batch_size=50,
                    commit_size=200,
                    progress=kill,
                ),
                60,
            )
        at = await reporting.position()
    finally:
        await engine.dispose()
    assert killed
    assert not _workers()
    assert at.colour == "blue"
