"""Dispatch's facts projection is handed a long log a bounded batch at a time: a batch is decoded
whole before it is applied, and a rotation is one large event (services/dispatch/facts.py)."""

from __future__ import annotations

from nats.aio.client import Client

from services.dispatch.facts import Fact, FactsProjection, FactsView
from shared.eventstore import EventStore
from shared.projection import Batch
from shared.provisioned import DISPATCH_FACTS_BATCH
from shared.settings import Settings
from tests.integration.test_lost_deliveries import Log, no_findings, reaches, running

FACTS = 250  # team facts already logged when the replica starts (each after a volunteer's)


class Sized(FactsProjection):
    """Dispatch's facts projection, remembering how many facts each batch handed it."""

    def __init__(self, name: str) -> None:
        super().__init__(name, FactsView(), no_findings)
        self.sizes: list[int] = []

    async def apply(self, batch: Batch[Fact]) -> None:
        self.sizes.append(len(batch.items))
        await super().apply(batch)


async def test_a_replay_of_the_facts_is_applied_at_most_a_hundred_facts_a_batch(
    nc: Client, store: EventStore, provisioned: Settings
) -> None:
    """Given 250 team facts logged before dispatch starts, when its replica replays them, then
    no batch hands it more than 100 facts, all are applied, and the operator's consumer has
    no more than one such batch pending."""
    log, js, stream = Log(store), nc.jetstream(), provisioned.event_stream
    await log.grow(FACTS)
    projection = Sized("dispatch_facts_1")
    runner = projection.runner(js, stream=stream, hub=provisioned.hub)
    await runner.start()
    async with running(runner):
        await reaches(projection, log.team[-1], 30)
    info = await js.consumer_info(stream, "dispatch_facts_1")
    assert (DISPATCH_FACTS_BATCH, info.config.max_ack_pending) == (100, 100)
    assert max(projection.sizes) <= DISPATCH_FACTS_BATCH
    assert sum(projection.sizes) == FACTS
    assert len(projection.view.teams["t1"].members) == FACTS - 1
