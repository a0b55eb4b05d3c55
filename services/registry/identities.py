"""Possible duplicates: which volunteers share a normalised name, birth date and province.

An in-process index per registry replica, fed from the log by its own consumer (replayed from the
start, then live) and by the replica's own registrations the moment they are recorded. It only
*flags* (a warning and a PossibleDuplicateFlagged fact), never refuses, so a registration racing
another one on a different replica within the consumer's delay may go unflagged; that is the price
of keeping it off the write path (one append fewer per registration; see docs/architecture.md §2).
Keys are keyed pseudonyms (``Registry.pseudonym``): no personal value is held as a key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import structlog
from nats.aio.msg import Msg

from shared.consumer import DurableConsumer
from shared.envelope import H_EVENT_TYPE
from shared.events.registry import VolunteerRegistered

log = structlog.get_logger(__name__)
IdentityKey = Callable[[str, str, str], str]  # (full_name, birth_date ISO, province) -> key


class IdentityIndex:
    """identity key → the volunteer ids registered with it (in log order)."""

    def __init__(self, key: IdentityKey) -> None:
        self._key = key
        self._holders: dict[str, tuple[str, ...]] = {}
        self.position = 0  # the last stream sequence applied from the log

    def key(self, full_name: str, birth_date: str, province_code: str) -> str:
        return self._key(full_name, birth_date, province_code)

    def holders(self, key: str) -> tuple[str, ...]:
        return self._holders.get(key, ())

    def add(self, key: str, volunteer_id: str) -> None:
        held = self._holders.get(key, ())
        if volunteer_id not in held:
            self._holders[key] = (*held, volunteer_id)

    def __len__(self) -> int:
        return len(self._holders)

    async def apply(self, msgs: list[Msg]) -> None:
        """A batch from the log. Only registrations count; everything else is skipped unread."""
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            if seq <= self.position:
                continue  # redelivered
            self.position = seq
            if (msg.headers or {}).get(H_EVENT_TYPE) != VolunteerRegistered.event_type:
                continue
            try:
                data: dict[str, Any] = json.loads(msg.data)["data"]
                key = self.key(str(data["full_name"]), str(data["birth_date"]), str(data["province_code"]))
                self.add(key, str(data["volunteer_id"]))
            except (ValueError, KeyError, TypeError):
                # the registry wrote it and validated it then: a malformed one is not ours to judge
                # here (reporting dead-letters it); it simply flags nothing
                log.warning("identity_event_unreadable", seq=seq)


class IdentityFeed:
    """Runs the index's consumer until stopped; recreates it after a failure (server away)."""

    def __init__(self, index: IdentityIndex, consumer: DurableConsumer) -> None:
        self.index = index
        self.consumer = consumer
        self.caught_up = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, catch_up_s: float) -> None:
        await self.consumer.ensure(self.index.position)
        if await self.consumer.pending() == 0:
            self.caught_up.set()
        self._task = asyncio.create_task(self._run())
        try:
            await asyncio.wait_for(self.caught_up.wait(), catch_up_s)
        except TimeoutError:
            log.warning("identities_not_caught_up", waited_s=catch_up_s, lag=self.consumer.lag)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.consumer.run(self._stop)
            except Exception:
                log.exception("identity_consumer_failed", durable=self.consumer.durable)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 1.0)
                with contextlib.suppress(Exception):
                    await self.consumer.ensure(self.index.position)

    async def on_batch(self, msgs: list[Msg]) -> None:
        await self.index.apply(msgs)
        if int(msgs[-1].metadata.num_pending or 0) == 0:
            self.caught_up.set()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        with contextlib.suppress(Exception):
            await self.consumer.delete()
