"""The membership path's round trips: a team this replica holds is not read again to admit a member."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from nats.aio.client import Client

from services.registry.domain.commands import AddTeamMember, DisbandTeam, FormTeam, RegisterVolunteer
from services.registry.service import Registry
from shared.aggregates import CommandContext
from shared.decider import Rejected
from shared.envelope import Recorded
from shared.eventstore import EventStore
from shared.settings import Settings
from tests.integration.registry.test_registry import TEAM, VOLUNTEER, person


class CountingStore(EventStore):
    """The real store, counting the reads of each subject."""

    reads: Counter[str]

    async def read(self, subject: str, after_seq: int = 0) -> list[Recorded]:
        self.reads[subject] += 1
        return await super().read(subject, after_seq)


def ctx(command_id: str) -> CommandContext:
    return CommandContext(command_id, command_id, "test", datetime.now(UTC))


@pytest.fixture
def registry(nc: Client, provisioned: Settings) -> tuple[Registry, CountingStore]:
    store = CountingStore(nc, stream=provisioned.event_stream, hub=provisioned.hub)
    store.reads = Counter()
    return Registry(store, provisioned), store


async def test_a_member_joins_a_held_team_without_reading_it(
    registry: tuple[Registry, CountingStore],
) -> None:
    """Given a team this replica formed (so holds), when volunteers join it, then the team's
    subject is never read: the cached team admits them and its guarded append checks the log."""
    reg, store = registry
    team_id = (await reg.form_team(FormTeam(**TEAM), ctx("f-1"))).aggregate_id
    vols = [
        (await reg.register_volunteer(RegisterVolunteer(**person(i)), ctx(f"r-{i}"))).aggregate_id
        for i in range(3)
    ]
    store.reads.clear()
    for n, vol in enumerate(vols):
        joined = await reg.add_team_member(AddTeamMember(team_id=team_id, volunteer_id=vol), ctx(f"j-{n}"))
        assert joined.aggregate_id == team_id
    assert store.reads[reg.teams.subject(team_id)] == 0, store.reads
    state = (await reg.teams.load(team_id)).state
    assert state.members == frozenset(vols)


async def test_a_refusal_on_a_held_team_is_checked_against_the_log(
    nc: Client, provisioned: Settings, registry: tuple[Registry, CountingStore]
) -> None:
    """Given a team another replica disbanded (this one still holds it open), when a volunteer
    joins here, then it is refused team_disbanded and the volunteer stays free; a member already
    in the held team is refused already_member only after the log is asked."""
    reg, store = registry
    other = Registry(EventStore(nc, stream=provisioned.event_stream, hub=provisioned.hub), provisioned)
    team_id = (await reg.form_team(FormTeam(**TEAM), ctx("f-2"))).aggregate_id
    vol = (await reg.register_volunteer(RegisterVolunteer(**VOLUNTEER), ctx("r-a"))).aggregate_id
    await reg.add_team_member(AddTeamMember(team_id=team_id, volunteer_id=vol), ctx("j-a"))
    store.reads.clear()
    with pytest.raises(Rejected) as refused:
        await reg.add_team_member(AddTeamMember(team_id=team_id, volunteer_id=vol), ctx("j-a2"))
    assert refused.value.code == "already_member"
    assert store.reads[reg.teams.subject(team_id)] == 1
    await other.disband_team(DisbandTeam(team_id=team_id, reason="campaign over"), ctx("d-2"))
    late = (await reg.register_volunteer(RegisterVolunteer(**person(7)), ctx("r-b"))).aggregate_id
    with pytest.raises(Rejected) as refused:
        await reg.add_team_member(AddTeamMember(team_id=team_id, volunteer_id=late), ctx("j-b"))
    assert refused.value.code == "team_disbanded"
    assert (await reg.volunteers.load(late)).state.team_id is None
