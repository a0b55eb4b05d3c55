"""The composition root: settings → clock, store, write path, service, consumers, command bus, ops
(the connection is made by :mod:`shared.hosting`).

Start order: the facts projection replays the log first, and commands are served once it has
caught up (or after ``catch_up_s``), so a restarted replica does not refuse known teams. Each
replica has its own projection consumer (``dispatch_facts_<instance>``, dropped by the server when
idle for an hour); the ingest consumer and the command queue group are shared.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import structlog
from nats.aio.client import Client

from services.dispatch.clock import Clock, clock_from_setting
from services.dispatch.days import DayClosing
from services.dispatch.domain.commands import COMMANDS
from services.dispatch.domain.model import DEFAULT_REPORT_LIMITS, Policy
from services.dispatch.facts import FactsProjection, FactsView
from services.dispatch.ingest import ActivityIngest
from services.dispatch.service import DispatchService
from shared.cachefeed import CacheFeed
from shared.commands import CommandBus
from shared.consumer import keep_running
from shared.deadletter import DeadLetters
from shared.discovery import discovery_for
from shared.events.dispatch import CONTEXT
from shared.eventstore import EventStore
from shared.hosting import serve
from shared.ops import HttpServer, ops_app
from shared.ownership import Ownership
from shared.provisioned import feed_consumer, read_consumer, read_filters
from shared.runtime import instance_name
from shared.settings import Settings
from shared.subjectread import SubjectReader
from shared.transaction import Writer

log = structlog.get_logger(__name__)


def policy_from(settings: Settings) -> Policy:
    return Policy(
        campaign_start=settings.campaign_start,
        campaign_end=settings.campaign_end,
        checkin_grace=timedelta(minutes=settings.checkin_grace_min),
        clock_skew=timedelta(seconds=settings.clock_skew_s),
        min_shift=timedelta(minutes=settings.shift_min_minutes),
        max_shift=timedelta(hours=settings.shift_max_hours),
        max_rotation_days=settings.rotation_max_days,
        report_limits={**DEFAULT_REPORT_LIMITS, **settings.report_limits},
    )


class DispatchApp:
    """One dispatch replica. ``clock`` overrides ``VHUB_CLOCK`` (tests, simulators); ``catch_up_s``
    bounds how long commands wait for the facts projection to replay."""

    def __init__(
        self, nc: Client, settings: Settings, *, clock: Clock | None = None, catch_up_s: float = 30.0
    ) -> None:
        s = self.settings = settings
        self.nc = nc
        self.clock = clock or clock_from_setting(s.clock)
        self.instance = instance_name(s)
        self._catch_up_s = catch_up_s
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.caught_up = asyncio.Event()
        self.stopped = False
        js = nc.jetstream(timeout=s.publish_timeout_s)
        store = EventStore(
            nc,
            stream=s.event_stream,
            hub=s.hub,
            publish_timeout=s.publish_timeout_s,
            # no direct get of the whole stream, no consumer of its own making (vhub/natsaccounts.py)
            scoped_reads=SubjectReader(
                nc,
                stream=s.event_stream,
                consumer=read_consumer(CONTEXT, self.instance),
                filters=read_filters(CONTEXT, s.hub),
                wait_s=s.publish_timeout_s,
            ),
        )
        self.service = DispatchService(
            Writer(store, retries=s.occ_retries),
            FactsView(),
            clock=self.clock,
            policy=policy_from(s),
            cache_size=s.snapshot_cache_size,
        )
        svc = self.service  # other replicas' appends reach its cached snapshots (shared/cachefeed.py)
        self.feed = CacheFeed(
            nc,
            stream=s.event_stream,
            consumer=feed_consumer(CONTEXT, self.instance),
            filters=read_filters(CONTEXT, s.hub),
            repositories={"schedule": svc.schedules, "coverage": svc.coverage, "day": svc.days},
            lazy=True,  # a lone replica never follows: only another replica's append wakes it
        )
        for repo in (svc.schedules, svc.coverage, svc.days):
            repo.behind = self.feed.wake
        self.projection = FactsProjection(
            f"dispatch_facts_{self.instance}", self.service.view, self.service.record_findings
        )
        self.facts = self.projection.runner(js, stream=s.event_stream, hub=s.hub)
        self.caught_up = self.facts.caught_up
        dlq = DeadLetters(js, stream=s.dlq_stream, hub=s.hub, source="dispatch_ingest")
        ownership = Ownership.of(s.hub, standalone=s.standalone)
        self.ingest = ActivityIngest(
            self.service, js, stream=s.ingest_stream, dead_letters=dlq, ownership=ownership
        )
        self.closing = DayClosing(self.service, store, self.projection)
        self.bus = CommandBus(
            nc, CONTEXT, clock=self.clock, concurrency=s.command_concurrency, ownership=ownership
        )
        self.bus.serve(COMMANDS, self.service, self.closing)
        self.http = HttpServer(ops_app(nc, self.readiness), s.http_host, s.http_port)
        self.discovery = discovery_for(nc, s, "dispatch", bus=self.bus, readiness=self.readiness)

    async def start(self) -> None:
        """Replay the facts (commands wait for it, up to ``catch_up_s``), then serve."""
        await self.facts.start()  # the projection starts empty: replay from the beginning
        self._tasks.append(asyncio.create_task(self.facts.run(self._stop)))
        await self.ingest.ensure()
        ingesting = keep_running(self.ingest.consumer, self._stop, self.ingest.ensure)
        self._tasks.append(asyncio.create_task(ingesting))
        await self.feed.start()  # from the start of the log: warm snapshots before serving
        self._tasks.append(asyncio.create_task(self.feed.run(self._stop)))
        await self.facts.wait_caught_up(self._catch_up_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.feed.caught_up.wait(), self._catch_up_s)
        await self.bus.start()
        await self.discovery.start()
        await self.http.start()
        log.info(
            "dispatch_started",
            instance=self.instance,
            hub=self.settings.hub,
            commands=self.bus.names,
            http_port=self.http.port,
        )

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        lag = self.facts.consumer.lag
        ok = self.caught_up.is_set() and 0 <= lag <= self.settings.readiness_max_lag
        return ok, {
            "facts_lag": lag,
            "facts_position": self.projection.view.position,
            "instance": self.instance,
        }

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        await self.bus.stop()
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.http.stop()
        log.info("dispatch_stopped", instance=self.instance)


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run one replica until ``stop`` is set (default: SIGTERM or SIGINT)."""
    await serve(settings, f"dispatch-{instance_name(settings)}", DispatchApp, stop)
