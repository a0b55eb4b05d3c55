"""The rebuild's pipeline: reading goes on while a group is written, into a larger next group."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.db import make_engine
from services.reporting.rebuild import GROUP_GROWTH, Progress, rebuild
from services.reporting.store import Item, ReportingStore
from shared.eventstore import EventStore
from shared.settings import Settings
from tests.integration.reporting.campaign import generate
from tests.integration.reporting.conftest import publish


class SlowFirstWrite(ReportingStore):
    """A store whose first group's write waits until the rebuild has read the whole log (at most
    ``hold_s``): a write slower than the reading, made certain."""

    def __init__(self, engine: AsyncEngine, hold_s: float) -> None:
        super().__init__(engine)
        self.read_all = asyncio.Event()
        self.released_by_reading = False
        self.groups: list[int] = []
        self._hold_s = hold_s

    async def apply(self, items: Sequence[Item], **kwargs: Any) -> int:
        if not self.groups:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.read_all.wait(), self._hold_s)
            self.released_by_reading = self.read_all.is_set()
        self.groups.append(len(items))
        return await super().apply(items, **kwargs)


async def test_reading_goes_on_while_the_previous_group_is_written(
    store: EventStore, nc: Client, rsettings: Settings
) -> None:
    """Given a log of 1 + GROUP_GROWTH commit sizes and a first write that cannot finish before the
    log is read, when a rebuild runs, then it reads the whole log meanwhile and writes the rest as one
    second group, and goes live at the log's end."""
    log = generate(rsettings.hub, volunteers=120, teams=12, days=2, seed=5)
    last = await publish(store, log)
    commit = -(-len(log) // (1 + GROUP_GROWTH))  # the rest fits in one grown group
    engine = make_engine(rsettings.database_url, writer=True)
    try:
        slow = SlowFirstWrite(engine, hold_s=20)
        await slow.create_schema()

        def seen(p: Progress) -> None:
            if p.applied >= len(log):
                slow.read_all.set()

        js, stream = nc.jetstream(), rsettings.read_stream
        switched = await rebuild(js, slow, stream=stream, batch_size=50, commit_size=commit, progress=seen)
    finally:
        await engine.dispose()
    assert slow.released_by_reading  # the reading did not wait for the first write
    assert len(slow.groups) == 2
    assert slow.groups[0] >= commit
    assert sum(slow.groups) == len(log)
    assert switched.position == last
