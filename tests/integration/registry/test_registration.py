"""Registration and membership without atomic batches, against a real nats-server.

A registration is claim then volunteer, a membership volunteer then team: what could go wrong
between the two appends (a writer dying, a team disbanded meanwhile), and the possible-duplicate
index that replaced the identity subject (its own consumer per replica).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.aio.client import Client

from services.registry.app import RegistryApp
from services.registry.domain.commands import (
    AddTeamMember,
    AppointTeamLeader,
    DisbandTeam,
    FormTeam,
    RegisterVolunteer,
)
from services.registry.phones import ORPHAN_AFTER
from services.registry.service import Registry
from shared.aggregates import CommandContext, Outcome
from shared.commands import CommandBus
from shared.decider import Rejected
from shared.eventstore import EventStore
from shared.ownership import owned_id
from shared.settings import Settings
from shared.transaction import Target, Writer
from tests.integration.registry.conftest import Send
from tests.integration.registry.test_registry import TEAM, VOLUNTEER, person
from tests.support.waiting import eventually

T0 = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)


def ctx(command_id: str, at: datetime) -> CommandContext:
    return CommandContext(command_id=command_id, correlation_id=command_id, actor="test", received_at=at)


async def register(registry: Registry, body: dict[str, Any], command_id: str, at: datetime) -> dict[str, Any]:
    accepted = await registry.register_volunteer(RegisterVolunteer(**body), ctx(command_id, at))
    return accepted.model_dump()


async def claim_only(registry: Registry, command_id: str, at: datetime) -> str:
    """What a writer that died between its two appends leaves behind: the claim alone."""
    volunteer_id = owned_id(registry.volunteers.store.hub, "volunteer", command_id)
    phone = registry.pseudonym("phone", "+84987654321")
    await registry.claims.claim(phone, volunteer_id, ctx(command_id, at))
    return volunteer_id


async def test_a_resent_command_finishes_a_registration_whose_writer_died(
    store: EventStore, provisioned: Settings
) -> None:
    registry = Registry(store, provisioned)
    volunteer_id = await claim_only(registry, "dying", T0)
    outcome = await register(registry, VOLUNTEER, "dying", T0)
    assert outcome["aggregate_id"] == volunteer_id
    assert [e["event_type"] for e in outcome["events"]] == ["registry.volunteer_registered"]


async def test_an_abandoned_claim_passes_on_only_once_it_is_old(
    store: EventStore, provisioned: Settings
) -> None:
    """Within ORPHAN_AFTER the phone is taken (the first writer may be in flight); after it, the
    unfinished registration is voided on its own subject, so its late resend can never land."""
    registry = Registry(store, provisioned)
    abandoned = await claim_only(registry, "abandoned", T0)
    other = {**VOLUNTEER, "full_name": "Người Khác"}
    with pytest.raises(Rejected) as early:
        await register(registry, other, "early", T0 + ORPHAN_AFTER / 2)
    assert early.value.code == "duplicate_volunteer"
    assert early.value.details == {"existing_id": abandoned}

    later = await register(registry, other, "later", T0 + ORPHAN_AFTER + timedelta(seconds=1))
    assert later["accepted"]
    assert [r.envelope.event_type for r in await store.read(registry.volunteers.subject(abandoned))] == [
        "registry.registration_voided"
    ]
    fresh = Registry(store, provisioned)  # another replica, nothing cached
    with pytest.raises(Rejected) as late:
        await register(fresh, VOLUNTEER, "abandoned", T0 + 2 * ORPHAN_AFTER)
    assert late.value.code == "registration_voided"
    with pytest.raises(Rejected) as taken:
        await register(fresh, VOLUNTEER, "third", T0 + 2 * ORPHAN_AFTER)
    assert taken.value.details == {"existing_id": later["aggregate_id"]}


async def test_a_registration_that_landed_is_never_voided(store: EventStore, provisioned: Settings) -> None:
    """The void is guarded by the volunteer's version: once recorded, the phone stays its own."""
    registry = Registry(store, provisioned)
    first = await register(registry, VOLUNTEER, "first", T0)
    with pytest.raises(Rejected) as refused:
        await register(registry, {**VOLUNTEER, "full_name": "Người Khác"}, "second", T0 + 10 * ORPHAN_AFTER)
    assert refused.value.details == {"existing_id": first["aggregate_id"]}
    assert len(await store.read(registry.volunteers.subject(first["aggregate_id"]))) == 1


async def test_possible_duplicates_are_seen_across_replicas_and_restarts(
    send: Send,
    nc: Client,
    provisioned: Settings,
    start_registry: Callable[[], Awaitable[CommandBus]],
) -> None:
    """A replica's index follows the log: another replica's registration, and, after a start,
    every earlier one (replayed before the first command is served)."""
    # a second replica whose index we can watch: another slot, so a consumer of its own
    other = RegistryApp(nc, provisioned.model_copy(update={"instance": "2"}))
    await other.start()
    try:
        await start_registry()
        await other.bus.stop()  # commands go to the first replica; `other` keeps only its index
        first = await send("register_volunteer", person(1))
        position = first["version"]
        await eventually(
            lambda: other.registry.identities.position >= position, "the other replica's index", 10
        )
        key = other.registry.identities.key_of("Tình nguyện viên 0001", "2002-03-04", "01")
        assert other.registry.identities.holders(key) == (first["aggregate_id"],)
    finally:
        await other.stop()

    restarted = RegistryApp(nc, provisioned)
    await restarted.start()  # replays the log before serving
    try:
        assert restarted.identities.caught_up.is_set()
        twin = {**person(1), "full_name": "tinh nguyen vien 0001", "phone": "0911111111"}
        reply = await register(restarted.registry, twin, "twin", datetime.now(UTC))
        assert reply["warnings"][0]["duplicate_of"] == [first["aggregate_id"]]
    finally:
        await restarted.stop()


async def _volunteer_and_team(registry: Registry) -> tuple[str, str]:
    vol = (await register(registry, VOLUNTEER, "vol", T0))["aggregate_id"]
    formed = await registry.form_team(FormTeam(**TEAM), ctx("team", T0))
    return vol, formed.aggregate_id


class Between(Writer):
    """The write path with a step of the test's own after (or instead of) each single append of an
    aggregate kind: what another writer or a crash does between a command's two appends."""

    def __init__(self, store: EventStore, aggregate: str, step: Callable[[], Awaitable[None]]) -> None:
        super().__init__(store)
        self.aggregate, self.step, self.armed = aggregate, step, True

    async def write(self, ctx: CommandContext, target: Target, decide: Callable[[Any], Any]) -> Outcome:
        if not (self.armed and target.repo.aggregate == self.aggregate):
            return await super().write(ctx, target, decide)
        self.armed = False
        out = await super().write(ctx, target, decide)
        await self.step()
        return out


async def test_a_join_is_undone_when_the_team_is_disbanded_in_between(
    store: EventStore, provisioned: Settings
) -> None:
    """Membership is two appends (volunteer, then team): a team disbanded between them refuses,
    and the volunteer's join is undone, so they are free for another team."""
    other = Registry(store, provisioned)
    team_id = ""

    async def disband() -> None:  # the volunteer has joined; the team's side is next
        await other.disband_team(DisbandTeam(team_id=team_id), ctx("disband", T0))

    writer = Between(store, "volunteer", disband)
    registry = Registry(store, provisioned, writer=writer)
    writer.armed = False
    vol, team_id = await _volunteer_and_team(registry)
    writer.armed = True
    with pytest.raises(Rejected) as refused:
        await registry.add_team_member(AddTeamMember(team_id=team_id, volunteer_id=vol), ctx("join", T0))
    assert refused.value.code == "team_disbanded"
    history = await store.read(registry.volunteers.subject(vol))
    assert [r.envelope.event_type for r in history[1:]] == [
        "registry.volunteer_joined_team",
        "registry.volunteer_left_team",
    ]
    assert history[-1].envelope.causation_id == "join"
    again = await registry.form_team(FormTeam(**TEAM), ctx("team-2", T0))
    joined = await registry.add_team_member(
        AddTeamMember(team_id=again.aggregate_id, volunteer_id=vol), ctx("join-2", T0)
    )
    assert joined.accepted


async def test_a_resent_join_finishes_what_a_crash_left_half_done(
    store: EventStore, provisioned: Settings
) -> None:
    """The writer dies after the volunteer's side: the same command sent again adds the team's side
    and answers as a first success would; a third send is a duplicate."""

    async def die() -> None:
        raise ConnectionError("process died")

    writer = Between(store, "volunteer", die)
    registry = Registry(store, provisioned, writer=writer)
    writer.armed = False
    vol, team_id = await _volunteer_and_team(registry)
    writer.armed = True
    join = AddTeamMember(team_id=team_id, volunteer_id=vol)
    with pytest.raises(ConnectionError):
        await registry.add_team_member(join, ctx("join", T0))
    fresh = Registry(store, provisioned)  # the resend reaches another replica
    first = await fresh.add_team_member(join, ctx("join", T0))
    assert not first.duplicate
    assert [e.event_type for e in first.events] == ["registry.team_member_added"]
    assert (await fresh.teams.load(team_id)).state.members == frozenset({vol})
    assert (await fresh.add_team_member(join, ctx("join", T0))).duplicate


async def test_a_refusal_decided_on_a_stale_cache_is_checked_against_the_log(
    store: EventStore, provisioned: Settings
) -> None:
    """Replica A trusts its cached team on the first try; replica B changed the team meanwhile.
    A rule that refuses on the cached state is asked again of the log, so A accepts."""
    a, b = Registry(store, provisioned), Registry(store, provisioned)
    vol, team_id = await _volunteer_and_team(a)
    assert a.teams.cached(team_id) is not None
    await b.add_team_member(AddTeamMember(team_id=team_id, volunteer_id=vol), ctx("join-on-b", T0))
    assert vol not in a.teams.cached(team_id).state.members  # type: ignore[union-attr]  # checked above
    appointed = await a.appoint_team_leader(
        AppointTeamLeader(team_id=team_id, volunteer_id=vol), ctx("lead", T0)
    )
    assert appointed.accepted
    assert [e.event_type for e in appointed.events] == ["registry.team_leader_appointed"]
