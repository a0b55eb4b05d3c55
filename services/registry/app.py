"""Composition root of the registry: wiring only (store, write path, index feed, bus, ops HTTP);
hosted by :mod:`shared.hosting`, which makes the connection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from nats.aio.client import Client

from services.registry.campaign import Campaign
from services.registry.domain import commands as c
from services.registry.identities import IdentityFeed
from services.registry.privacy import Privacy
from services.registry.service import Registry
from shared.commands import CommandBus
from shared.discovery import discovery_for
from shared.envelope import utcnow
from shared.events.registry import CONTEXT
from shared.eventstore import EventStore
from shared.hosting import serve
from shared.ops import HttpServer, ops_app
from shared.ownership import Ownership
from shared.provisioned import identities_consumer, read_consumer, read_filters
from shared.runtime import instance_name
from shared.settings import Settings
from shared.subjectread import SubjectReader
from shared.transaction import Writer

log = structlog.get_logger(__name__)


class RegistryApp:
    """One registry replica: its store and write path, its possible-duplicate index (fed by a
    consumer of its own, replayed from the log before commands are served), the command bus and
    the ops endpoints. ``clock``, ``catch_up_s``: what tests substitute."""

    def __init__(
        self,
        nc: Client,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        catch_up_s: float = 60.0,
    ) -> None:
        self.settings = settings
        self._catch_up_s = catch_up_s
        store = EventStore(
            nc,
            stream=settings.event_stream,
            hub=settings.hub,
            publish_timeout=settings.publish_timeout_s,
            scoped_reads=SubjectReader(  # its own subjects only, as dispatch (vhub/natsaccounts.py)
                nc,
                stream=settings.event_stream,
                consumer=read_consumer(CONTEXT, instance_name(settings)),
                filters=read_filters(CONTEXT, settings.hub),
                wait_s=settings.publish_timeout_s,
            ),
        )
        self.registry = Registry(store, settings, writer=Writer(store, retries=settings.occ_retries))
        self.privacy = Privacy(self.registry)
        self.bus = CommandBus(
            nc,
            CONTEXT,
            clock=clock,
            concurrency=settings.command_concurrency,
            ownership=Ownership.of(settings.hub, standalone=settings.standalone),
        )
        self.bus.serve(c.COMMANDS, self.registry, self.privacy, Campaign(self.registry))
        # one consumer per replica (the index lives in this process), named by its slot so the
        # accounts file can list it (vhub/natsaccounts.py) and the operator provisions it
        # (shared/provisioned.py); a restart replays it from the start (ensure(0) resets it)
        durable = identities_consumer(instance_name(settings))
        self.identities = IdentityFeed(
            self.registry.identities,
            nc.jetstream(),
            stream=settings.event_stream,
            hub=settings.hub,
            durable=durable,
        )
        self.http = HttpServer(ops_app(nc, self.readiness), settings.http_host, settings.http_port)
        self.discovery = discovery_for(nc, settings, "registry", bus=self.bus, readiness=self.readiness)

    async def start(self) -> None:
        self.registry.key_pool.start()  # keys made ahead while the index replays
        await self.identities.start(self._catch_up_s)
        await self.bus.start()
        await self.discovery.start()
        await self.http.start()
        log.info("registry_started", hub=self.settings.hub, http_port=self.http.port)

    async def stop(self) -> None:
        await self.bus.stop()
        await self.registry.key_pool.stop()
        await self.identities.stop()
        await self.http.stop()

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        return True, {
            "commands": self.bus.names,
            "identities": {
                "caught_up": self.identities.caught_up.is_set(),
                "lag": self.identities.consumer.lag,
                "position": self.registry.identities.position,
                "keys": len(self.registry.identities),
            },
            "data_keys_ready": len(self.registry.key_pool),
        }


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve registry commands and the ops endpoints until stopped (default: SIGTERM, SIGINT)."""
    await serve(settings, "registry", RegistryApp, stop)
