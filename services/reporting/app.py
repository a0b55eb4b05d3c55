"""Composition root of the reporting service: settings → engines, store, consumer, API (the
connection is made by :mod:`shared.hosting`)."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.api import build_api
from services.reporting.consumer import (
    DURABLE,
    LiveProjection,
    PositionWatch,
    drop_orphaned_deliveries,
)
from services.reporting.db import make_engine
from services.reporting.health import ServiceHealth, services_router
from services.reporting.links import HubLinks
from services.reporting.national import NationalFeed, NationalIndex
from services.reporting.national_api import national_router
from services.reporting.provenance import LogLookup
from services.reporting.provenance_api import provenance_router
from services.reporting.queries import ReadModel
from services.reporting.restatements_api import restatements_router
from services.reporting.store import ReportingStore
from shared.consumer import DurableConsumer
from shared.deadletter import DeadLetters
from shared.discovery import discovery_for
from shared.hosting import serve
from shared.ops import HttpServer, ops_router
from shared.provisioned import REPORTING_FILTER
from shared.settings import Settings

log = structlog.get_logger(__name__)


class ReportingApp:
    """The reporting service: the live projection (a durable consumer folding events into the
    read model, batch and checkpoint in one transaction) and the read API. ``max_wait_s``: how long
    a ``min_position`` read waits (tests substitute it); the batch size is a setting."""

    def __init__(self, nc: Client, settings: Settings, *, max_wait_s: float = 5.0) -> None:
        self.settings = settings
        self.nc = nc
        js = nc.jetstream()
        self._js = js
        self.writer: AsyncEngine = make_engine(settings.database_url, writer=True)
        self.reader: AsyncEngine = make_engine(settings.database_url, writer=False)
        # a hub's own stream is that hub's log; central's names each message's hub in its headers
        self.store = ReportingStore(self.writer, hub=settings.hub)
        watch = PositionWatch()
        dlq = DeadLetters(js, stream=settings.dlq_stream, hub=settings.hub, source=DURABLE)
        self.projection = LiveProjection(self.store, dlq, watch)
        self.runner = self.projection.runner(
            js,
            stream=settings.read_stream,
            filter_subject=REPORTING_FILTER,
            batch_size=settings.reporting_batch_size,
        )
        self.consumer: DurableConsumer = self.runner.consumer
        self.projection.rewind = self._rewind
        self.runner.resume = self._resume
        self._started_at = 0
        self.national = NationalFeed(NationalIndex(), js, stream=settings.read_stream)
        lookup = LogLookup(js, settings.read_stream)
        self.links = HubLinks(nc, settings.read_stream, settings.hub)
        self.health = ServiceHealth(nc)
        self.api = api = build_api(
            ReadModel(self.reader),
            watch,
            max_wait_s=max_wait_s,
            extra_routers=[
                ops_router(nc, self.readiness),
                provenance_router(ReadModel(self.reader), lookup),
                restatements_router(ReadModel(self.reader), lookup),
                national_router(self.national.index, ReadModel(self.reader)),
                services_router(self.health),
            ],
            hub=settings.hub,
            links=self.links,
            national=self.national.index,
            health=self.health,
        )
        self.server = HttpServer(api, settings.http_host, settings.http_port)
        self.discovery = discovery_for(nc, settings, "reporting", readiness=self.readiness)
        self._stop = asyncio.Event()
        self._consuming: asyncio.Task[None] | None = None
        self._watching: list[asyncio.Task[None]] = []

    async def _rewind(self, checkpoint: int) -> None:
        # unconditionally (reset, or recreated when of our own making): the failed batch's ack
        # may not have landed yet
        await self.consumer.restart_after(checkpoint)

    async def _resume(self) -> None:  # after a consumer failure: from the checkpoint, the truth
        await self.consumer.ensure(start_after=(await self.store.position()).position)

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        lag = self.consumer.lag
        ok = 0 <= lag <= self.settings.readiness_max_lag
        return ok, {"lag": lag, "position": self.projection.position or self._started_at}

    async def start(self) -> None:
        """Schema, consumer from the checkpoint on, the API; then consume until stopped."""
        await self.store.create_schema()
        at = await self.store.position()
        self._started_at = self.projection.position = at.position
        await drop_orphaned_deliveries(self._js, self.settings.read_stream, DURABLE)
        await self.consumer.ensure(start_after=at.position)
        await self.national.start()
        await self.links.poll()  # the first answers already say where each hub stands
        await self.server.start()
        await self.discovery.start()
        self._consuming = asyncio.create_task(self.runner.run(self._stop))
        self._watching = [asyncio.create_task(w.run(self._stop)) for w in (self.links, self.health)]
        log.info("reporting_started", position=at.position, colour=at.colour, port=self.server.port)

    async def stop(self) -> None:
        self._stop.set()
        for task in [self._consuming, *self._watching]:
            if task is not None:
                await task
        await self.projection.flush()
        await self.national.stop()
        await self.server.stop()
        await self.writer.dispose()
        await self.reader.dispose()
        log.info("reporting_stopped")


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """The service process: consume and serve until stopped (default: SIGTERM or SIGINT)."""
    await serve(settings, "reporting", ReportingApp, stop)
