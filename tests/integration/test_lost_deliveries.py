"""Every projection runner notices deliveries that never reached it (a fetch answer lost with a
dropped link, or a dead predecessor's outstanding ones) and has them again, in order, instead of
acking past them; by consumer sequence, so filtered consumers (whose stream sequences have gaps
anyway) are checked too: a filtered runner, dispatch's provisioned facts consumer (reset, never
recreated) and the registry's identity index."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext

from services.dispatch.facts import Cause, Fact, FactsProjection, FactsView, Finding
from services.registry.identities import IdentityFeed, IdentityIndex
from shared.consumer import PROVISIONED
from shared.envelope import Envelope, derive_id, event_subject
from shared.events import Event
from shared.events.registry import TeamFormed, TeamMemberAdded, VolunteerRegistered
from shared.eventstore import EventStore
from shared.projection import Batch, ProjectionRunner
from shared.settings import Settings
from tests.integration.test_eventstore import env
from tests.support.waiting import eventually

EVENTS = 30
LOST = 3  # fewer than the consumer may have pending: it goes on delivering what follows
NOW = datetime(2026, 12, 1, tzinfo=UTC)


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


class Log:
    """Appends one team's history (formed, then a member per step) interleaved with volunteer
    registrations, all of one identity, so each filter sees gaps in the stream sequences."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.team: list[int] = []  # stream sequences of the team's events
        self.volunteers: list[int] = []
        self.volunteer_ids: list[str] = []
        self._team_version = 0

    async def _append(self, context: str, aggregate: str, agg_id: str, ev: Event, expected: int) -> int:
        command = f"{aggregate}-{agg_id}-{expected}"
        envelope = Envelope(
            event_id=derive_id(self.store.hub, command, agg_id, "0"),
            event_type=ev.event_type,
            schema_version=ev.schema_version,
            aggregate_id=agg_id,
            hub=self.store.hub,
            occurred_at=NOW,
            recorded_at=NOW,
            command_id=command,
            correlation_id=command,
            data=ev.model_dump(mode="json"),
        )
        subject = event_subject(self.store.hub, context, aggregate, agg_id)
        return (await self.store.append(subject, [envelope], expected=expected)).last_seq

    async def grow(self, steps: int) -> None:
        for _ in range(steps):
            n = len(self.volunteer_ids)
            vid = f"v{n}"
            team_ev: Event = (
                TeamFormed(
                    team_id="t1",
                    name="Đội 1",
                    province_code="01",
                    commune_code=None,
                    focus="digital_skills",
                    organisation="Đoàn",
                )
                if self._team_version == 0
                else TeamMemberAdded(team_id="t1", volunteer_id=f"v{n - 1}")
            )
            self._team_version = await self._append("registry", "team", "t1", team_ev, self._team_version)
            self.team.append(self._team_version)
            registered = VolunteerRegistered(
                volunteer_id=vid,
                province_code="01",
                commune_code="00004",
                affiliation="youth_union",
                skills=[],
                identity_pseudonym="same-person",
            )
            self.volunteers.append(await self._append("registry", "volunteer", vid, registered, 0))
            self.volunteer_ids.append(vid)


async def lose(js: JetStreamContext, stream: str, durable: str, count: int = LOST) -> None:
    """Deliveries the server counts as handed out, never acked and never seen by the runner (what
    a fetch answer lost with a dropped link leaves behind)."""
    sub = await js.pull_subscribe_bind(durable, stream=stream)
    try:
        assert len(await sub.fetch(count, timeout=5)) == count
    finally:
        await sub.unsubscribe()


@contextlib.asynccontextmanager
async def running(runner: ProjectionRunner[Any]) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def reaches(
    projection: Recorded | FactsProjection | IdentityIndex, position: int, within: float
) -> None:
    async def done() -> bool:
        return projection.position >= position

    await eventually(done, f"position {position} applied", within)


def volunteer_runner(
    js: JetStreamContext, projection: Recorded, settings: Settings, durable: str
) -> ProjectionRunner[int]:
    """A runner filtered on volunteer subjects only: its stream sequences have gaps."""
    return ProjectionRunner(
        js,
        projection,
        decode,
        stream=settings.event_stream,
        durable=durable,
        filter_subjects=[event_subject(settings.hub, "registry", "volunteer", "*")],
        batch_size=10,
    )


async def test_a_lost_fetch_is_delivered_again_in_order(
    nc: Client, store: EventStore, provisioned: Settings
) -> None:
    """Given a projection of every event whose consumer already handed out the first three events
    to a fetch that never arrived, when it runs, then it applies every event once, in order."""
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
    )
    await runner.start()
    await lose(nc.jetstream(), provisioned.event_stream, "lost_deliveries")
    try:
        async with running(runner):
            await reaches(projection, EVENTS, 30)
    finally:
        await runner.consumer.delete()
    assert projection.seen == list(range(1, EVENTS + 1))


async def test_a_filtered_runner_has_deliveries_lost_mid_run_again_in_order(
    nc: Client, store: EventStore, provisioned: Settings
) -> None:
    """Given a runner on volunteer subjects only (gaps in its stream sequences) that has applied
    half of the log, when a fetch answer of three deliveries is lost and more events follow, then
    it applies every volunteer event once, in order."""
    log, js = Log(store), nc.jetstream()
    await log.grow(EVENTS // 2)
    projection = Recorded()
    runner = volunteer_runner(js, projection, provisioned, "lost_filtered")
    await runner.start()
    try:
        async with running(runner):
            await reaches(projection, log.volunteers[-1], 30)
        await log.grow(EVENTS // 2)
        await lose(js, provisioned.event_stream, "lost_filtered")
        async with running(runner):
            await reaches(projection, log.volunteers[-1], 30)
    finally:
        await runner.consumer.delete()
    assert projection.seen == log.volunteers
    assert runner.consumer.restarts >= 1


async def test_a_lost_tail_is_had_again_before_the_ack_wait(
    nc: Client, store: EventStore, provisioned: Settings
) -> None:
    """Given a caught-up filtered runner, when the answer with the last three events is lost and
    nothing follows, then it has them within seconds (the ack wait is a minute)."""
    log, js = Log(store), nc.jetstream()
    await log.grow(5)
    projection = Recorded()
    runner = volunteer_runner(js, projection, provisioned, "lost_tail")
    await runner.start()
    try:
        async with running(runner):
            await reaches(projection, log.volunteers[-1], 30)
        await log.grow(LOST)
        await lose(js, provisioned.event_stream, "lost_tail")
        async with running(runner):
            await reaches(projection, log.volunteers[-1], 15)
    finally:
        await runner.consumer.delete()
    assert projection.seen == log.volunteers


class RecordedFacts(FactsProjection):
    """Dispatch's facts projection, remembering the sequences it was handed."""

    def __init__(self, name: str) -> None:
        super().__init__(name, FactsView(), no_findings)
        self.seen: list[int] = []

    async def apply(self, batch: Batch[Fact]) -> None:
        self.seen += [seq for seq, _, _ in batch.items]
        await super().apply(batch)


async def no_findings(_findings: list[tuple[Finding, Cause]]) -> None:
    raise AssertionError("no finding expected from teams and members")


async def test_dispatch_facts_consumer_is_reset_after_lost_deliveries_and_applies_all_in_order(
    nc: Client, store: EventStore, provisioned: Settings
) -> None:
    """Given the operator's dispatch_facts_1 with three deliveries a dead replica never acked,
    when a new replica replays its facts and later loses a fetch answer mid-run, then the
    consumer is reset (never recreated) and every team event is applied once, in order."""
    log, js, stream = Log(store), nc.jetstream(), provisioned.event_stream
    await log.grow(EVENTS // 2)
    created = (await js.consumer_info(stream, "dispatch_facts_1")).created
    await lose(js, stream, "dispatch_facts_1")  # the dead predecessor's
    projection = RecordedFacts("dispatch_facts_1")
    runner = projection.runner(js, stream=stream, hub=provisioned.hub)
    await runner.start()
    async with running(runner):
        await reaches(projection, log.team[-1], 30)
    await log.grow(EVENTS // 2)
    await lose(js, stream, "dispatch_facts_1")
    async with running(runner):
        await reaches(projection, log.team[-1], 30)
    info = await js.consumer_info(stream, "dispatch_facts_1")
    assert (info.created, PROVISIONED in (info.config.description or "")) == (created, True)
    assert projection.seen == log.team
    assert projection.view.teams["t1"].members == frozenset(log.volunteer_ids[:-1])


async def test_the_identity_index_has_a_dead_predecessors_deliveries_again_in_order(
    nc: Client, store: EventStore, provisioned: Settings
) -> None:
    """Given registry_identities_1 with three registrations a dead replica never acked, when a
    new replica's index replays the log, then it holds every registration, in log order."""
    log, js, stream = Log(store), nc.jetstream(), provisioned.event_stream
    await log.grow(EVENTS // 2)
    durable = "registry_identities_1"
    predecessor = IdentityFeed(
        IdentityIndex(lambda n, b: n), js, stream=stream, hub=provisioned.hub, durable=durable
    )
    await predecessor.runner.start()  # creates the consumer, as the dead replica had
    await lose(js, stream, durable)
    index = IdentityIndex(lambda n, b: n)
    feed = IdentityFeed(index, js, stream=stream, hub=provisioned.hub, durable=durable)
    await feed.start(catch_up_s=30)
    try:
        await reaches(index, log.volunteers[-1], 30)
    finally:
        await feed.stop()
    assert index.holders(IdentityIndex.key("same-person", "01")) == tuple(log.volunteer_ids)
