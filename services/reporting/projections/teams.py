"""Team facts: formed, disbanded, members, and the shifts dispatch records against them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.reporting.projections.rows import Changes, TeamRow, Wanted, areas
from shared.events import Event
from shared.events import dispatch as d
from shared.events import registry as r

_MEMBERSHIP = (r.VolunteerJoinedTeam, r.VolunteerLeftTeam, r.TeamMemberAdded, r.TeamMemberRemoved)
_TEAM_ONLY = (
    r.TeamFormed,
    r.TeamDisbanded,
    d.TeamDispatched,
    d.TeamRotationPlanned,
    d.DispatchCancelled,
    d.DispatchMarkedNoShow,
    d.NoShowWithdrawn,
    d.ActivityReported,
    d.FieldReportCorrected,
)


def team_wanted(out: Wanted, e: Event) -> None:
    if isinstance(e, _MEMBERSHIP):
        out.teams.add(e.team_id)
        out.memberships.add((e.team_id, e.volunteer_id))
    elif isinstance(e, d.TeamCheckedIn):
        out.teams.add(e.team_id)
        out.team_days.add((e.date, e.team_id))
    elif isinstance(e, _TEAM_ONLY):
        out.teams.add(e.team_id)


def _count_team(c: Changes, t: TeamRow, n: int) -> None:
    for level, code in areas(t.province_code, t.commune_code):
        c.figures[(level, code)]["active_teams"] += n
        c.focus[(level, code, t.focus)] += n


def _formed(c: Changes, e: r.TeamFormed) -> None:
    if e.team_id in c.state.teams:
        return
    t = TeamRow(e.team_id, e.province_code, e.commune_code, e.focus, e.organisation)
    c.state.teams[e.team_id] = t
    c.dirty_teams.add(e.team_id)
    _count_team(c, t, +1)


def _disbanded(c: Changes, e: r.TeamDisbanded) -> None:
    t = c.state.teams.get(e.team_id)
    if t is None or not t.active:
        return
    t.active = False
    c.dirty_teams.add(e.team_id)
    _count_team(c, t, -1)


def _member(c: Changes, team_id: str, volunteer_id: str, joined: bool) -> None:
    key = (team_id, volunteer_id)
    if c.state.memberships.get(key, False) == joined:
        return  # the volunteer's and the team's event both say it: count it once
    c.state.memberships[key] = joined
    c.dirty_memberships.add(key)
    t = c.state.teams.get(team_id)
    if t is not None:
        t.members += 1 if joined else -1
        c.dirty_teams.add(team_id)


def _joined(c: Changes, e: r.VolunteerJoinedTeam | r.TeamMemberAdded) -> None:
    _member(c, e.team_id, e.volunteer_id, joined=True)


def _left(c: Changes, e: r.VolunteerLeftTeam | r.TeamMemberRemoved) -> None:
    _member(c, e.team_id, e.volunteer_id, joined=False)


def _dispatched(c: Changes, e: d.TeamDispatched | d.DispatchCancelled, n: int) -> None:
    c.count(e.province_code, e.commune_code, "dispatches", n, e.date)
    c.cover(e.date, e.service_point_id, e.province_code, e.commune_code).dispatched += n
    t = c.state.teams.get(e.team_id)
    if t is not None:
        t.dispatches += n
        c.dirty_teams.add(e.team_id)


def _checked_in(c: Changes, e: d.TeamCheckedIn) -> None:
    where = areas(e.province_code, e.commune_code)
    c.count(e.province_code, e.commune_code, "check_ins", 1, e.date)
    c.cover(e.date, e.service_point_id, e.province_code, e.commune_code).check_ins += 1
    t = c.state.teams.get(e.team_id)
    if t is not None:
        t.check_ins += 1
        c.dirty_teams.add(e.team_id)
    for level, code in where:
        key = (e.date, e.team_id, level, code)
        if key in c.state.team_days:
            continue  # a second shift the same day: the team is already active there
        c.state.team_days.add(key)
        c.new_team_days.add(key)
        counter = c.daily[(e.date, level, code)]
        counter["active_teams"] += 1
        counter["active_volunteers"] += t.members if t is not None else 0


def _no_show(c: Changes, e: d.DispatchMarkedNoShow | d.NoShowWithdrawn, n: int) -> None:
    c.count(e.province_code, e.commune_code, "no_shows", n, e.date)
    t = c.state.teams.get(e.team_id)
    if t is not None:
        t.no_shows += n
        c.dirty_teams.add(e.team_id)


def _rotation(c: Changes, e: d.TeamRotationPlanned) -> None:
    """Each shift counts as the old batch form's ``TeamDispatched`` did (provenance and
    restatements name the rotation's one event for each of them: one a day, so never twice)."""
    for shift in e.dispatched():
        _dispatched(c, shift, +1)


TEAM_HANDLERS: dict[type[Event], Callable[[Changes, Any], None]] = {
    r.TeamFormed: _formed,
    r.TeamDisbanded: _disbanded,
    r.VolunteerJoinedTeam: _joined,
    r.TeamMemberAdded: _joined,
    r.VolunteerLeftTeam: _left,
    r.TeamMemberRemoved: _left,
    d.TeamDispatched: lambda c, e: _dispatched(c, e, +1),
    d.TeamRotationPlanned: _rotation,
    d.DispatchCancelled: lambda c, e: _dispatched(c, e, -1),
    d.TeamCheckedIn: _checked_in,
    d.DispatchMarkedNoShow: lambda c, e: _no_show(c, e, +1),
    d.NoShowWithdrawn: lambda c, e: _no_show(c, e, -1),  # a late check-in of a closed day
}
