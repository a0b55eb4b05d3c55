"""A replica's cached snapshots follow the other replicas' appends (shared/cachefeed.py).

Two repositories of team schedules over one real event stream stand for two dispatch replicas: A
appends (one event, then a batch of two), B only follows through its cache feed. B's snapshot must
reach A's last event with the same state and command index, without reading the log, while B's
own appends (already held) are never folded a second time.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from nats.aio.client import Client

from services.dispatch.domain.evolve import evolve_schedule
from services.dispatch.domain.model import Schedule
from shared.aggregates import Aggregates, CommandContext, EventRef
from shared.cachefeed import CacheFeed
from shared.events.dispatch import TeamDispatched
from shared.eventstore import EventStore, Write
from shared.provisioned import read_filters
from shared.settings import Settings
from tests.support.waiting import eventually


def schedules(store: EventStore) -> Aggregates[Schedule]:
    return Aggregates[Schedule](
        store, context="dispatch", aggregate="schedule", initial=Schedule, evolve=evolve_schedule
    )


def ctx(command_id: str) -> CommandContext:
    return CommandContext(command_id, command_id, "test", datetime.now(UTC))


def shift(n: int) -> TeamDispatched:
    return TeamDispatched(
        service_point_id="p1",
        province_code="79",
        commune_code="26734",
        date=date(2025, 7, 1 + n),
        dispatch_id=f"t1:{n}",
        team_id="t1",
        starts_at=datetime(2025, 7, 1 + n, 1, tzinfo=UTC),
        ends_at=datetime(2025, 7, 1 + n, 5, tzinfo=UTC),
        focus="admin_support",
    )


async def test_a_replica_follows_another_replicas_appends(
    nc: Client, store: EventStore, provisioned: Settings
) -> None:
    """B's cached schedule follows A's appends (single and batched) through the feed alone."""
    a, b = schedules(store), schedules(store)
    feed = CacheFeed(
        nc,
        stream=store.stream,
        consumer="dispatch_feed_test",
        filters=read_filters("dispatch", provisioned.hub),
        repositories={"schedule": b},
        pace=0.0,
    )
    await feed.start()
    stop = asyncio.Event()
    running = asyncio.create_task(feed.run(stop))
    try:
        # given B holds the schedule after its own first append
        snap = await b.load("t1", assume_new=True)
        first = await store.append(b.subject("t1"), [b.envelope("t1", ctx("c0"), shift(0), 0)], 0)
        b.advance(
            "t1", snap, ctx("c0"), [shift(0)], (EventRef(first.last_seq, "dispatch.team_dispatched", "x"),)
        )
        # when A appends one event, then two in one atomic batch
        held = await a.load("t1")
        one = await store.append(a.subject("t1"), [a.envelope("t1", ctx("c1"), shift(1), 0)], held.version)
        two = [a.envelope("t1", ctx("c2"), shift(n), n - 2) for n in (2, 3)]
        [batch] = await store.append_many([Write(a.subject("t1"), two, one.last_seq)])
        # then B's snapshot reaches A's last event, folded by the feed alone
        await eventually(
            lambda: (b.cached("t1") or snap).version == batch.last_seq, lambda: str(b.cached("t1"))
        )
        followed = b.cached("t1")
        truth = await a.load("t1")
        assert followed is not None
        assert followed.state == truth.state
        assert set(followed.state.shifts) == {f"t1:{n}" for n in range(4)}
        assert [r.seq for r in followed.commands["c2"]] == [batch.first_seq, batch.last_seq]
        assert feed.folded == 3, "B's own append was folded again, or one of A's was missed"
    finally:
        stop.set()
        await running


async def test_a_lazy_feed_sleeps_until_a_load_finds_its_snapshot_behind(
    nc: Client, store: EventStore, provisioned: Settings
) -> None:
    """A lazy feed folds nothing while its replica is alone; once a load finds a held snapshot
    behind another writer's append, it follows that writer's later appends by itself."""
    a, b = schedules(store), schedules(store)
    feed = CacheFeed(
        nc,
        stream=store.stream,
        consumer="dispatch_feed_lazy",
        filters=read_filters("dispatch", provisioned.hub),
        repositories={"schedule": b},
        pace=0.0,
        lazy=True,
    )
    b.behind = feed.wake
    await feed.start()
    stop = asyncio.Event()
    running = asyncio.create_task(feed.run(stop))
    try:
        await asyncio.wait_for(feed.caught_up.wait(), 10)
        # given B holds the schedule after its own append, and A appends behind B's back
        snap = await b.load("t1", assume_new=True)
        first = await store.append(b.subject("t1"), [b.envelope("t1", ctx("c0"), shift(0), 0)], 0)
        b.advance(
            "t1", snap, ctx("c0"), [shift(0)], (EventRef(first.last_seq, "dispatch.team_dispatched", "x"),)
        )
        one = await store.append(a.subject("t1"), [a.envelope("t1", ctx("c1"), shift(1), 0)], first.last_seq)
        # when B's next load finds its snapshot behind (the sleeping feed did not follow), it wakes
        assert (await b.load("t1")).version == one.last_seq
        # then A's next append reaches B through the feed alone
        two = await store.append(a.subject("t1"), [a.envelope("t1", ctx("c2"), shift(2), 0)], one.last_seq)
        await eventually(
            lambda: (b.cached("t1") or snap).version == two.last_seq, lambda: str(b.cached("t1"))
        )
        # and A's first append, read by B's load, was never fed: the feed slept through it and
        # resumed after it (an always-on feed folds both, or the first and not the second)
        assert feed.folded == 1
    finally:
        stop.set()
        await running
