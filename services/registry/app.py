"""Composition root of the registry: wiring only (connection, store, bus, ops HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from nats.aio.client import Client

from services.registry.domain import commands as c
from services.registry.service import Registry
from shared.commands import CommandBus
from shared.envelope import utcnow
from shared.events.registry import CONTEXT
from shared.eventstore import EventStore
from shared.runtime import HttpServer, connect_nats, ops_app, stop_on_signals
from shared.settings import Settings
from shared.streams import provision

log = structlog.get_logger(__name__)


def build_bus(nc: Client, settings: Settings, clock: Callable[[], datetime] = utcnow) -> CommandBus:
    """The registry's command table: subject name → command model → use case."""
    store = EventStore(
        nc, stream=settings.event_stream, hub=settings.hub, publish_timeout=settings.publish_timeout_s
    )
    registry = Registry(store, settings)
    bus = CommandBus(nc, CONTEXT, clock=clock, concurrency=settings.command_concurrency)
    for name, model in c.COMMANDS.items():
        bus.route(name, model, getattr(registry, name))
    return bus


async def run(
    settings: Settings, *, provision_streams: bool = False, stop: asyncio.Event | None = None
) -> None:
    """Serve registry commands and the ops endpoints until stopped."""
    stop = stop or stop_on_signals()
    nc = await connect_nats(settings, "vhub-registry")
    if provision_streams:
        await provision(nc.jetstream(), settings)
    bus = build_bus(nc, settings)
    await bus.start()

    async def readiness() -> tuple[bool, dict[str, Any]]:
        return True, {"commands": bus.names}

    http = HttpServer(ops_app(nc, readiness, "vhub registry"), settings.http_host, settings.http_port)
    await http.start()
    log.info("registry_started", hub=settings.hub, http_port=http.port)
    await stop.wait()
    log.info("registry_stopping")
    await bus.stop()
    await http.stop()
    await nc.drain()
