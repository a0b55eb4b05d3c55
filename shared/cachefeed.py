"""Keep a replica's cached snapshots current with the other replicas' appends.

Replicas share a command queue group, so each serves only part of an aggregate's commands: its
cached snapshot falls behind the others' appends, and each such load walks back through the log
(shared/subjectread.py: a seek per event, about a millisecond of CPU each), or, for a replica that
has just started, through the whole history. The feed pulls every event on the service's subjects
through a consumer the operator provisions per replica (``<service>_feed_<slot>``, pull, no acks;
bound only, vhub/natsaccounts.py): from the start of the log when the replica starts (it serves
with warm snapshots), then as events are appended. Each event is folded into its repository's
cached snapshot when the predecessor link the server stored with it says it directly follows
that snapshot (:meth:`shared.aggregates.Aggregates.follow`); our own appends are already held.

The cache stays a hint: a load still asks for the subject's last event, so an append the feed has
not delivered yet is one event behind (folded from that answer) and nothing is ever folded twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any

import nats.errors
import structlog
from nats.aio.client import Client
from nats.js.errors import NotFoundError

from shared.subjectread import predecessor, read_consumer_config

log = structlog.get_logger(__name__)


class CacheFeed:
    """Feeds ``repositories`` (by the subject's aggregate token: ``vhub.evt.<hub>.<context>.
    <aggregate>.<id>``) from the consumer ``consumer`` on ``filters``."""

    def __init__(
        self,
        nc: Client,
        *,
        stream: str,
        consumer: str,
        filters: list[str],
        repositories: Mapping[str, Any],  # Aggregates of any state type
        batch: int = 500,
        pace: float = 0.02,
        lazy: bool = False,
    ) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self.stream = stream
        self.consumer = consumer
        self._filters = filters
        self._repos = repositories
        self._batch = batch
        self._pace = pace  # after a short fetch, let a trickle gather: a pull per event costs more
        self.caught_up = asyncio.Event()
        self.folded = 0
        # lazy: once caught up, the feed sleeps until a load finds a held snapshot behind the log
        # (:meth:`wake`). A lone replica is never behind, and following would only hand it back its
        # own appends (measured: +30% CPU per dispatch command at one replica).
        self._awake = asyncio.Event()
        self._resume_at = 0
        if not lazy:
            self._awake.set()

    async def start(self) -> None:
        """From the start of the log: the replica's snapshots are empty."""
        try:
            await self._js.consumer_info(self.stream, self.consumer)
        except NotFoundError:  # no accounts file (or no replica slot): make our own
            config = read_consumer_config(self.consumer, self._filters, provisioned=False)
            await self._js.add_consumer(self.stream, config)
        else:
            await self._reset(1)
        self._sub = await self._js.pull_subscribe_bind(self.consumer, self.stream)

    def wake(self, seq: int) -> None:
        """Another writer's append at ``seq`` was found behind a held snapshot: follow the log
        from there on (a lazy feed; the snapshots behind meanwhile catch up on their next load)."""
        if not self._awake.is_set():
            self._resume_at = seq + 1
            self._awake.set()
            log.info("cache_feed_woken", consumer=self.consumer, seq=seq)

    async def _reset(self, seq: int) -> None:
        subject = f"$JS.API.CONSUMER.RESET.{self.stream}.{self.consumer}"
        reply = json.loads(
            (await self._nc.request(subject, json.dumps({"seq": seq}).encode(), timeout=5)).data
        )
        if "error" in reply:
            raise RuntimeError(f"{self.consumer}: {reply['error'].get('description')}")

    async def run(self, stop: asyncio.Event) -> None:
        """Pull and fold until ``stop``; a failure is logged and the feed goes on (the cache is a
        hint: without the feed, loads read the log)."""
        try:
            await self._pull(stop)
        finally:  # else draining the connection waits for the pending pull
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    async def _pull(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.caught_up.is_set() and not self._awake.is_set():
                await _first(stop, self._awake)
                if stop.is_set():
                    return
                await self._reset(self._resume_at)  # not through our own appends of the quiet time
            try:
                msgs = await self._sub.fetch(self._batch, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                self.caught_up.set()
                continue
            except Exception:
                log.exception("cache_feed_failed", consumer=self.consumer)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                continue
            for msg in msgs:
                self._fold(msg.subject, msg.metadata.sequence.stream, dict(msg.headers or {}), msg.data)
            if msgs and msgs[-1].metadata.num_pending == 0:
                self.caught_up.set()
            if len(msgs) < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._pace)

    def _fold(self, subject: str, seq: int, headers: dict[str, str], data: bytes) -> None:
        parts = subject.split(".", 5)
        repo = self._repos.get(parts[4]) if len(parts) == 6 else None
        previous = predecessor(seq, headers)
        if repo is not None and previous is not None and repo.follow(parts[5], seq, previous, data):
            self.folded += 1


async def _first(*events: asyncio.Event) -> None:
    """Until any of ``events`` is set."""
    waits = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
