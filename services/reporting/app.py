"""Composition root of the reporting service: settings → engines, NATS, consumer, API; run until
SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
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
from services.reporting.queries import ReadModel
from services.reporting.store import ReportingStore
from shared.consumer import DurableConsumer
from shared.deadletter import DeadLetters
from shared.envelope import EVT_PREFIX
from shared.logging import configure_logging
from shared.runtime import HttpServer, connect_nats, ops_router, stop_on_signals
from shared.settings import Settings

log = structlog.get_logger(__name__)


@dataclass
class Reporting:
    """A running reporting service (also used in-process by tests and benchmarks)."""

    nc: Client
    writer: AsyncEngine
    reader: AsyncEngine
    store: ReportingStore
    consumer: DurableConsumer
    server: HttpServer
    projection: LiveProjection

    async def close(self) -> None:
        await self.projection.flush()
        await self.server.stop()
        await self.nc.drain()
        await self.writer.dispose()
        await self.reader.dispose()


async def start(settings: Settings, *, batch_size: int = 500, max_wait_s: float = 5.0) -> Reporting:
    nc = await connect_nats(settings, "vhub-reporting")
    js = nc.jetstream()
    writer = make_engine(settings.database_url, writer=True)
    reader = make_engine(settings.database_url, writer=False)
    store = ReportingStore(writer)
    await store.create_schema()
    watch = PositionWatch()
    dlq = DeadLetters(js, stream=settings.dlq_stream, hub=settings.hub, source=DURABLE)
    projection = LiveProjection(store, dlq, watch)
    consumer = DurableConsumer(
        js,
        stream=settings.read_stream,
        durable=DURABLE,
        filter_subjects=[f"{EVT_PREFIX}.>"],
        handler=projection.handle,
        batch_size=batch_size,
    )

    async def rewind(checkpoint: int) -> None:
        await consumer.delete()  # unconditionally: the failed batch's ack may not have landed yet
        await consumer.ensure(start_after=checkpoint)

    projection.rewind = rewind
    at = await store.position()
    await drop_orphaned_deliveries(js, settings.read_stream, DURABLE)
    await consumer.ensure(start_after=at.position)

    async def readiness() -> tuple[bool, dict[str, Any]]:
        lag = consumer.lag
        ok = 0 <= lag <= settings.readiness_max_lag
        return ok, {"lag": lag, "position": projection.position or at.position}

    api = build_api(
        ReadModel(reader), watch, max_wait_s=max_wait_s, extra_routers=[ops_router(nc, readiness)]
    )
    server = HttpServer(api, settings.http_host, settings.http_port)
    await server.start()
    log.info("reporting_started", position=at.position, colour=at.colour, port=server.port)
    return Reporting(nc, writer, reader, store, consumer, server, projection)


async def run(settings: Settings, *, batch_size: int = 500) -> None:
    """The service process: consume and serve until SIGTERM or SIGINT."""
    configure_logging(settings.log_format, settings.log_level, service="reporting")
    stop = stop_on_signals()
    service = await start(settings, batch_size=batch_size)
    try:
        consuming = asyncio.create_task(service.consumer.run(stop))
        await stop.wait()
        await consuming
    finally:
        await service.close()
        log.info("reporting_stopped")
