"""The team aggregate: formed with a focus, members, a leader who is a member, disbanded."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from services.registry.domain import values
from services.registry.domain.commands import FormTeam
from shared.decider import Rejected
from shared.events import Event
from shared.events.registry import (
    TeamDisbanded,
    TeamFormed,
    TeamLeaderAppointed,
    TeamMemberAdded,
    TeamMemberRemoved,
)


class Team(BaseModel):
    model_config = ConfigDict(frozen=True)

    formed: bool = False
    disbanded: bool = False
    province_code: str | None = None
    members: frozenset[str] = frozenset()
    leader: str | None = None


def initial() -> Team:
    return Team()


def evolve(state: Team, event: Event) -> Team:
    match event:
        case TeamFormed():
            return Team(formed=True, province_code=event.province_code)
        case TeamMemberAdded():
            return state.model_copy(update={"members": state.members | {event.volunteer_id}})
        case TeamMemberRemoved():
            leader = None if state.leader == event.volunteer_id else state.leader
            return state.model_copy(
                update={"members": state.members - {event.volunteer_id}, "leader": leader}
            )
        case TeamLeaderAppointed():
            return state.model_copy(update={"leader": event.volunteer_id})
        case TeamDisbanded():
            return state.model_copy(update={"disbanded": True})
    return state


def form(state: Team, cmd: FormTeam, *, team_id: str) -> list[Event]:
    if state.formed:
        raise Rejected("duplicate_team", f"team {team_id} exists already")
    province, commune = values.check_place(cmd.province_code, cmd.commune_code)
    return [
        TeamFormed(
            team_id=team_id,
            name=values.normalise_name(cmd.name),
            province_code=province,
            commune_code=commune,
            focus=cmd.focus,
            organisation=values.normalise_name(cmd.organisation, field="organisation"),
        )
    ]


def require_open(state: Team, team_id: str) -> None:
    if not state.formed:
        raise Rejected("unknown_team", f"no team {team_id}")
    if state.disbanded:
        raise Rejected("team_disbanded", f"team {team_id} is disbanded and takes no changes")


def add_member(state: Team, team_id: str, volunteer_id: str) -> list[Event]:
    require_open(state, team_id)
    if volunteer_id in state.members:
        raise Rejected("already_member", f"volunteer {volunteer_id} is already in this team")
    return [TeamMemberAdded(team_id=team_id, volunteer_id=volunteer_id)]


def remove_member(state: Team, team_id: str, volunteer_id: str) -> list[Event]:
    require_open(state, team_id)
    if volunteer_id not in state.members:
        raise Rejected("not_a_member", f"volunteer {volunteer_id} is not in team {team_id}")
    return [TeamMemberRemoved(team_id=team_id, volunteer_id=volunteer_id)]


def drop_member(state: Team, team_id: str, volunteer_id: str) -> list[Event]:
    """Cascade of a withdrawal: remove if present, nothing otherwise."""
    if volunteer_id not in state.members or state.disbanded:
        return []
    return [TeamMemberRemoved(team_id=team_id, volunteer_id=volunteer_id)]


def appoint_leader(state: Team, team_id: str, volunteer_id: str) -> list[Event]:
    require_open(state, team_id)
    if volunteer_id not in state.members:
        raise Rejected("leader_not_member", f"volunteer {volunteer_id} is not in team {team_id}")
    if state.leader == volunteer_id:
        return []
    return [TeamLeaderAppointed(team_id=team_id, volunteer_id=volunteer_id)]


def disband(state: Team, team_id: str, reason: str) -> list[Event]:
    require_open(state, team_id)
    return [TeamDisbanded(team_id=team_id, reason=reason)]
