"""A projection that reads every event of its stream notices deliveries that never reached it (a
fetch answer lost with a dropped link) and has them again, instead of acking past them."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client

from shared.envelope import event_subject
from shared.eventstore import EventStore
from shared.projection import Batch, ProjectionRunner
from shared.settings import Settings
from tests.integration.test_eventstore import env
from tests.support.waiting import eventually

EVENTS = 30
LOST = 3  # fewer than the consumer may have pending: it goes on delivering what follows


class Recorded:
    """Applies by remembering every sequence it was handed."""

    def __init__(self) -> None:
        self.position = 0
        self.seen: list[int] = []

    async def apply(self, batch: Batch[int]) -> None:
        self.seen += batch.items
        self.position = batch.last_seq


def decode(seq: int, _raw: bytes) -> tuple[int | None, str | None]:
    return seq, None


async def test_a_lost_fetch_is_delivered_again_in_order(
    nc: Client, store: EventStore, provisioned: Settings
) -> None:
    """Given a contiguous projection whose consumer already handed out the first three events to a
    fetch that never arrived, when it runs, then it applies every event once, in order."""
    for n in range(EVENTS):
        subject = event_subject(provisioned.hub, "registry", "volunteer", f"v{n}")
        await store.append(subject, [env(store.hub, f"v{n}", f"c{n}")], expected=0)
    projection = Recorded()
    runner = ProjectionRunner(
        nc.jetstream(),
        projection,
        decode,
        stream=provisioned.event_stream,
        durable="lost_deliveries",
        filter_subjects=[f"vhub.evt.{provisioned.hub}.>"],
        batch_size=10,
        contiguous=True,
    )
    await runner.start()
    lost = await nc.jetstream().pull_subscribe_bind("lost_deliveries", stream=provisioned.event_stream)
    assert len(await lost.fetch(LOST, timeout=5)) == LOST  # delivered, never acked, never seen
    stop = asyncio.Event()
    running = asyncio.create_task(runner.run(stop))
    try:

        async def done() -> bool:
            return projection.position >= EVENTS

        await eventually(done, "every event applied", 30)
    finally:
        stop.set()
        await running
        await lost.unsubscribe()
        await runner.consumer.delete()
    assert projection.seen == list(range(1, EVENTS + 1))
