"""The JetStream event store against a real nats-server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from nats.aio.client import Client

from shared.envelope import Envelope, derive_id, event_subject
from shared.eventstore import ConcurrencyConflictError, EventStore
from shared.settings import Settings
from tests.support.faults import LosingAcks

NOW = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)


def env(hub: str, agg: str, command_id: str, n: int = 0, **data: object) -> Envelope:
    return Envelope(
        event_id=derive_id(hub, command_id, agg, str(n)),
        event_type="registry.volunteer_withdrawn",
        schema_version=1,
        aggregate_id=agg,
        hub=hub,
        occurred_at=NOW,
        recorded_at=NOW,
        command_id=command_id,
        correlation_id=command_id,
        data={"volunteer_id": agg, **data},
    )


async def test_append_then_read_back_in_order(store: EventStore, provisioned: Settings) -> None:
    """Appended events come back from the subject's history in order, with their sequences."""
    subject = event_subject(provisioned.hub, "registry", "volunteer", "v1")
    first = await store.append(subject, [env(store.hub, "v1", "c1", reason="a")], expected=0)
    second = await store.append(
        subject,
        [env(store.hub, "v1", "c2", 0, reason="b"), env(store.hub, "v1", "c2", 1, reason="c")],
        expected=first.last_seq,
    )
    history = await store.read(subject)
    assert [r.envelope.data["reason"] for r in history] == ["a", "b", "c"]
    assert [r.seq for r in history] == [first.last_seq, second.first_seq, second.last_seq]
    assert await store.read(subject, after_seq=second.first_seq) == history[2:]


async def test_stale_expected_sequence_is_a_conflict(store: EventStore, provisioned: Settings) -> None:
    """A writer that read an old version loses: the log keeps the first writer's event only."""
    subject = event_subject(provisioned.hub, "registry", "volunteer", "v2")
    await store.append(subject, [env(store.hub, "v2", "c1")], expected=0)
    with pytest.raises(ConcurrencyConflictError):
        await store.append(subject, [env(store.hub, "v2", "c2")], expected=0)
    assert len(await store.read(subject)) == 1


async def test_two_concurrent_writers_exactly_one_wins(store: EventStore, provisioned: Settings) -> None:
    """Two appends at the same expected version: one succeeds, the other conflicts."""
    subject = event_subject(provisioned.hub, "registry", "volunteer", "v3")
    results = await asyncio.gather(
        *(store.append(subject, [env(store.hub, "v3", f"c{i}")], expected=0) for i in range(2)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, ConcurrencyConflictError) for r in results) == 1
    assert len(await store.read(subject)) == 1


async def test_batch_is_atomic_under_conflict(store: EventStore, provisioned: Settings) -> None:
    """A multi-event append that loses the race writes none of its events."""
    subject = event_subject(provisioned.hub, "registry", "volunteer", "v4")
    await store.append(subject, [env(store.hub, "v4", "c1")], expected=0)
    batch = [env(store.hub, "v4", "c2", n) for n in range(3)]
    with pytest.raises(ConcurrencyConflictError):
        await store.append(subject, batch, expected=0)
    assert len(await store.read(subject)) == 1


@pytest.mark.parametrize("events", [1, 3])
async def test_lost_ack_resend_is_recognised(nc: Client, provisioned: Settings, events: int) -> None:
    """A publish whose ack is lost is resent; the store sees its own Msg-Id and reports success
    (the server answers the resend with 10071 or 10201, not duplicate=True)."""
    lossy = LosingAcks(nc, drop=1)
    store = EventStore(
        lossy,  # type: ignore[arg-type]  # duck-typed client that loses replies
        stream=provisioned.event_stream,
        hub=provisioned.hub,
        publish_timeout=2.0,
    )
    subject = event_subject(provisioned.hub, "registry", "volunteer", "v5")
    batch = [env(store.hub, "v5", "c1", n) for n in range(events)]
    result = await store.append(subject, batch, expected=0)
    assert lossy.dropped == 1
    assert result.duplicate
    history = await store.read(subject)
    assert len(history) == events
    assert result.last_seq == history[-1].seq


async def test_append_many_is_one_transaction_across_aggregates(
    store: EventStore, provisioned: Settings
) -> None:
    """Events for several aggregates land together, or (one aggregate stale) not at all."""
    from shared.eventstore import Write

    a = event_subject(provisioned.hub, "registry", "volunteer", "va")
    b = event_subject(provisioned.hub, "registry", "volunteer", "vb")
    first_b = await store.append(b, [env(store.hub, "vb", "c0")], expected=0)
    with pytest.raises(ConcurrencyConflictError):
        await store.append_many(
            [Write(a, [env(store.hub, "va", "c1")], 0), Write(b, [env(store.hub, "vb", "c1")], 0)]
        )  # b is stale
    assert await store.read(a) == []
    results = await store.append_many(
        [
            Write(a, [env(store.hub, "va", "c2", 0), env(store.hub, "va", "c2", 1)], 0),
            Write(b, [env(store.hub, "vb", "c2")], first_b.last_seq),
        ]
    )
    assert [r.seq for r in await store.read(a)] == [results[0].first_seq, results[0].last_seq]
    assert (await store.read(b))[-1].seq == results[1].last_seq == results[0].last_seq + 1
