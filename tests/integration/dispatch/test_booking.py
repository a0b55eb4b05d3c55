"""No double booking under load and across replicas; rotations all or nothing; late registry facts."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from services.dispatch.app import DispatchApp
from shared.envelope import event_subject
from shared.eventstore import EventStore
from tests.integration.dispatch.conftest import Ask, Registry, Start, known

SHIFT = {
    "service_point_id": "p1",
    "starts_at": "2025-07-10T08:00:00+07:00",
    "ends_at": "2025-07-10T12:00:00+07:00",
}


async def shift_events(store: EventStore, team_id: str) -> Counter[str]:
    subject = event_subject(store.hub, "dispatch", "schedule", team_id)
    return Counter(r.envelope.event_type for r in await store.read(subject))


def overlapping(n: int) -> dict[str, str]:
    """The n-th of many shifts that all overlap 10:00-11:00."""
    return {
        "service_point_id": "p1",
        "starts_at": f"2025-07-10T{8 + n % 3:02d}:00:00+07:00",
        "ends_at": f"2025-07-10T{11 + n % 3:02d}:00:00+07:00",
    }


async def test_fifty_concurrent_overlapping_dispatches_exactly_one_accepted(
    dispatch: DispatchApp, registry: Registry, store: EventStore, ask: Ask
) -> None:
    """50 dispatch_team in flight at once for overlapping shifts of one team: one is accepted,
    the rest are refused shift_overlaps, and the log holds one TeamDispatched."""
    await registry.team("t1")
    await known(dispatch, await registry.point("p1"))
    replies = await asyncio.gather(*(ask("dispatch_team", team_id="t1", **overlapping(n)) for n in range(50)))
    assert sum(r["accepted"] for r in replies) == 1
    assert {r["code"] for r in replies if not r["accepted"]} == {"shift_overlaps"}
    assert (await shift_events(store, "t1"))["dispatch.team_dispatched"] == 1


async def test_two_replicas_share_the_load_and_still_never_double_book(
    start_dispatch: Start, registry: Registry, store: EventStore, ask: Ask
) -> None:
    """Two replicas in one queue group: both answer commands, each team keeps free shifts only,
    and 50 concurrent overlapping dispatches of one team still give exactly one acceptance."""
    a, b = await start_dispatch("a"), await start_dispatch("b")
    for n in range(4):
        await registry.team(f"t{n}")
    seq = await registry.point("p1")
    await known(a, seq)
    await known(b, seq)
    free = await asyncio.gather(
        *(
            ask(
                "dispatch_team",
                team_id=f"t{n % 4}",
                service_point_id="p1",
                starts_at=f"2025-07-{11 + n // 4:02d}T08:00:00+07:00",
                ends_at=f"2025-07-{11 + n // 4:02d}T12:00:00+07:00",
            )
            for n in range(40)
        )
    )
    assert all(r["accepted"] for r in free), [r for r in free if not r["accepted"]][:1]
    assert a.bus.served > 0
    assert b.bus.served > 0
    clash = await asyncio.gather(*(ask("dispatch_team", team_id="t0", **overlapping(n)) for n in range(50)))
    assert sum(r["accepted"] for r in clash) == 1
    assert (await shift_events(store, "t0"))["dispatch.team_dispatched"] == 11


async def test_the_same_command_id_gets_the_same_answer_from_any_replica(
    start_dispatch: Start, registry: Registry, store: EventStore, ask: Ask
) -> None:
    """A command resent with its id (to whichever replica) returns the first dispatch id and
    records nothing new."""
    a, b = await start_dispatch("a"), await start_dispatch("b")
    await registry.team("t1")
    seq = await registry.point("p1")
    await known(a, seq)
    await known(b, seq)
    replies = [await ask("dispatch_team", command_id="cmd-1", team_id="t1", **SHIFT) for _ in range(6)]
    assert len({r["result"]["dispatch_id"] for r in replies}) == 1
    assert [r["duplicate"] for r in replies].count(False) == 1
    assert (await shift_events(store, "t1"))["dispatch.team_dispatched"] == 1


async def test_a_colliding_rotation_is_refused_whole(
    dispatch: DispatchApp, registry: Registry, store: EventStore, ask: Ask
) -> None:
    """A week's rotation with one day colliding is refused naming that shift, and records
    nothing; the same rotation moved past the collision is recorded whole, as one event."""
    await registry.team("t1")
    await registry.point("p1")
    await known(dispatch, await registry.point("p2"))
    existing = await ask(
        "dispatch_team",
        team_id="t1",
        service_point_id="p1",
        starts_at="2025-07-16T10:00:00+07:00",
        ends_at="2025-07-16T14:00:00+07:00",
    )
    rotation = {
        "team_id": "t1",
        "service_point_ids": ["p1", "p2"],
        "from_date": "2025-07-14",
        "to_date": "2025-07-20",
        "daily_starts_at": "08:00",
        "daily_ends_at": "12:00",
    }
    refused = await ask("plan_rotation", **rotation)
    assert refused["code"] == "shift_overlaps"
    assert refused["details"]["conflicting_dispatch_id"] == existing["result"]["dispatch_id"]
    assert refused["details"]["date"] == "2025-07-16"
    assert (await shift_events(store, "t1"))["dispatch.team_dispatched"] == 1
    accepted = await ask("plan_rotation", **{**rotation, "from_date": "2025-07-17"})
    assert accepted["accepted"], accepted
    assert [d["service_point_id"] for d in accepted["result"]["dispatches"]] == ["p1", "p2", "p1", "p2"]
    assert await shift_events(store, "t1") == {
        "dispatch.team_dispatched": 1,
        "dispatch.team_rotation_planned": 1,  # the four shifts, in one event
    }


async def test_late_registry_facts_refuse_then_accept_on_retry(
    start_dispatch: Start, registry: Registry, ask: Ask
) -> None:
    """A dispatch that reaches dispatch before the team's TeamFormed is refused unknown_team;
    once the projection has the team, the same command is accepted."""
    a, b = await start_dispatch("a"), await start_dispatch("b")
    await known(a, await registry.point("p1"))
    command_id = uuid.uuid4().hex
    first = await ask("dispatch_team", command_id=command_id, team_id="late", **SHIFT)
    assert first["code"] == "unknown_team"
    seq = await registry.team("late")
    await known(a, seq)
    await known(b, seq)
    again = await ask("dispatch_team", command_id=command_id, team_id="late", **SHIFT)
    assert again["accepted"], again


async def test_disbanded_team_and_unknown_point_are_refused_over_nats(
    dispatch: DispatchApp, registry: Registry, ask: Ask
) -> None:
    """The registry's TeamDisbanded reaches dispatch, which then refuses the team."""
    await registry.team("t1")
    await registry.point("p1")
    await known(dispatch, await registry.disband("t1"))
    assert (await ask("dispatch_team", team_id="t1", **SHIFT))["code"] == "team_disbanded"
    await known(dispatch, await registry.team("t2"))
    reply = await ask("dispatch_team", team_id="t2", **{**SHIFT, "service_point_id": "nowhere"})
    assert reply["code"] == "unknown_service_point"
