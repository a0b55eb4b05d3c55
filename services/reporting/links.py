"""Whether each hub's log is reaching the stream reporting reads, from JetStream itself.

At central the read stream (``VHUB_CENTRAL``) sources one stream per hub. Its stream info gives,
per source, ``active``: the time since the source last heard from the hub's stream (under a
second while the link is up, idle or not; it grows through a cut). Its ``lag`` stays 0 during a
cut (FACTS.md), so ``active`` decides: a source silent for longer than ``active_within_s`` is
``cut_off`` since the moment it was last heard from. After a heal the server sets the source up
again only on its next retry (it backs off 10 s per failure), so a hub reads ``cut_off`` until
events flow again: what the figures see, not what the link does.

How far each hub's own log goes comes from that stream's info in the hub's JetStream domain
(``$JS.<hub>.API``, over the leaf link; the central hub's own stream locally). During a cut that
request fails fast or times out, and the lag is then not known. A hub's own reporting reads its
own stream: one hub, ``local``, its last sequence from the same info.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client
from nats.js.api import StreamInfo

from services.reporting.hubfresh import Link
from services.reporting.store import origin_hub
from shared.envelope import utcnow

log = structlog.get_logger(__name__)
ERRORS = (nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError)


class HubLinks:
    """Polls the read stream's info every ``every_s``; :meth:`view` is the latest per hub, and
    :attr:`generation` moves whenever it changes (answers cached under one stay valid)."""

    def __init__(
        self,
        nc: Client,
        stream: str,
        hub: str,
        *,
        every_s: float = 1.0,
        active_within_s: float = 5.0,
        ask_timeout_s: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._nc = nc
        self._stream = stream
        self._hub = hub
        self.every_s = every_s
        self._quiet = timedelta(seconds=active_within_s)
        self._timeout = ask_timeout_s
        self._clock = clock
        self._view: dict[str, Link] = {}
        self._heard: datetime | None = None  # when the stream's info last answered
        self.generation = 0

    def view(self) -> dict[str, Link]:
        """The hubs as last seen; every hub ``unknown`` once the stream's info has not answered
        for ``active_within_s`` (reporting cannot tell)."""
        if self._heard is not None and self._clock() - self._heard > self._quiet:
            return {hub: Link("unknown") for hub in self._view}
        return self._view

    @property
    def hubs(self) -> frozenset[str]:
        """The hubs whose logs the read stream holds (empty until the first answer)."""
        return frozenset(self._view)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)

    async def poll(self) -> None:
        """Ask once; keep the last view when the stream's info does not answer."""
        try:
            info = await self._nc.jetstream(timeout=self._timeout * 2).stream_info(self._stream)
        except ERRORS as err:
            log.warning("stream_info_failed", stream=self._stream, error=type(err).__name__)
            return
        now = self._clock()
        self._heard = now
        view = await (self._sourced(info, now) if info.config.sources else self._own(info))
        if view != self._view:
            self._view = view
            self.generation += 1

    async def _own(self, info: StreamInfo) -> dict[str, Link]:
        return {self._hub: Link("local", hub_last_seq=info.state.last_seq)}

    async def _sourced(self, info: StreamInfo, now: datetime) -> dict[str, Link]:
        active = {s.name: s.active for s in info.sources or []}
        sources = info.config.sources or []
        lasts = await asyncio.gather(
            *(self._last_seq(s.name, s.external.api if s.external else None) for s in sources)
        )
        view = {}
        for source, last in zip(sources, lasts, strict=True):
            hub = origin_hub(source.name, self._hub)
            quiet_ns = active.get(source.name)
            if quiet_ns is None or quiet_ns < 0:  # not set up (yet, or again after a restart)
                view[hub] = Link("cut_off", self._still_cut(hub, None), last)
            elif quiet_ns <= self._quiet.total_seconds() * 1e9:
                view[hub] = Link("active", None, last)
            else:
                since = now - timedelta(microseconds=quiet_ns // 1000)
                view[hub] = Link("cut_off", self._still_cut(hub, since), last)
        return view

    def _still_cut(self, hub: str, since: datetime | None) -> datetime | None:
        """A cut keeps the moment it began (the server's figure jitters by a poll's duration)."""
        before = self._view.get(hub)
        if before is not None and before.source == "cut_off" and before.cut_off_since is not None:
            return before.cut_off_since
        return since.replace(microsecond=0) if since else None

    async def _last_seq(self, stream: str, api: str | None) -> int | None:
        js = self._nc.jetstream(prefix=api or "$JS.API", timeout=self._timeout)
        try:
            return (await js.stream_info(stream)).state.last_seq
        except ERRORS:
            return None  # cut off (or not allowed to ask): not known
