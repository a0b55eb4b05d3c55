"""How every service process is hosted: one shape for the three composition roots.

Each ``services/<name>/app.py`` defines an app class ``XApp(nc, settings, **substitutes)``: it
builds every dependency from the settings (the store, the write path, consumers, the command bus,
its HTTP server) and hands them down; ``start()`` does the I/O that serving needs, ``stop()``
undoes it. The NATS connection is made here only: :func:`hosted` connects as the settings say,
builds the app, starts it and stops it; :func:`serve` is the process (``python -m
services.<name>``). Tests take the same path and substitute at the app's constructor (a clock, a
write path, batch sizes), never by patching.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from typing import Protocol, TypeVar

import structlog
from nats.aio.client import Client

from shared.heapprofile import HeapProfile
from shared.runtime import connect_nats, stop_on_signals
from shared.settings import Settings
from shared.streams import provision

log = structlog.get_logger(__name__)


class App(Protocol):
    """What a composition root builds: started once, stopped once."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


A = TypeVar("A", bound=App)


@contextlib.asynccontextmanager
async def hosted(settings: Settings, name: str, build: Callable[[Client, Settings], A]) -> AsyncIterator[A]:
    """Connect (the one place a service's NATS connection is made), provision the hub's streams
    if the settings ask for it (dev only), build the app, start it; stop and drain on the way out,
    also when ``start()`` fails partway."""
    nc = await connect_nats(settings, f"vhub-{name}")
    try:
        if settings.provision_streams:
            await provision(nc.jetstream(), settings)
        app = build(nc, settings)
        try:
            await app.start()
        except BaseException:
            await _undo(app, name)
            raise
        try:
            yield app
        finally:
            await app.stop()
    finally:
        await nc.drain()


async def _undo(app: App, name: str) -> None:
    """Stop an app whose ``start()`` failed partway, so what it did start (consumer tasks, an HTTP
    port, a queue subscription) does not outlive it; the start failure is the one raised."""
    try:
        await app.stop()
    except Exception:
        log.exception("service_stop_after_failed_start_failed", service=name)


async def serve(
    settings: Settings,
    name: str,
    build: Callable[[Client, Settings], App],
    stop: asyncio.Event | None = None,
) -> None:
    """Run one service until ``stop`` is set (default: SIGTERM or SIGINT)."""
    stop = stop or stop_on_signals()
    heap = None if settings.heap_profile_dir is None else HeapProfile(settings.heap_profile_dir, name)
    async with hosted(settings, name, build):
        log.info("service_started", service=name, hub=settings.hub)
        # Start-up objects (FastAPI, pydantic schemas, replayed projections) live as long as the
        # process: keep them out of the collector's full passes, which stalled commands for ~100 ms.
        gc.freeze()
        if heap is not None:
            heap.write("started")
        await stop.wait()
        log.info("service_stopping", service=name)
        if heap is not None:
            heap.write("stopping")
