"""The rules: ``decide`` functions that turn (state, command, facts) into events or a rejection.

Every rule refuses with its own snake_case code. Facts from the registry (team, service point), the
current time and the new ids are passed in: nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from services.dispatch.domain.commands import (
    DispatchTeam,
    PlanRotation,
    RequestCoverage,
)
from services.dispatch.domain.model import (
    Coverage,
    PointView,
    Policy,
    Request,
    Schedule,
    Shift,
    TeamView,
    local_date,
    local_datetime,
)
from shared.decider import Rejected
from shared.events import Event
from shared.events.dispatch import (
    CoverageRequested,
    RotationShift,
    TeamDispatched,
    TeamRotationPlanned,
)
from shared.events.registry import Focus


def in_campaign(policy: Policy, *days: date) -> None:
    for day in days:
        if not policy.campaign_start <= day <= policy.campaign_end:
            raise Rejected(
                "outside_campaign",
                f"{day} is outside the campaign ({policy.campaign_start} to {policy.campaign_end})",
                date=str(day),
            )


def _shift_length(policy: Policy, starts_at: datetime, ends_at: datetime) -> None:
    length = ends_at - starts_at
    if not policy.min_shift <= length <= policy.max_shift:
        raise Rejected(
            "invalid_shift_length",
            f"a shift lasts {policy.min_shift} to {policy.max_shift}; this one lasts {length}",
            minutes=int(length.total_seconds() // 60),
        )


def _team(team: TeamView | None, team_id: str) -> TeamView:
    if team is None:
        raise Rejected("unknown_team", f"team {team_id} is not known to dispatch (yet)", team_id=team_id)
    if team.disbanded:
        raise Rejected("team_disbanded", f"team {team_id} is disbanded", team_id=team_id)
    return team


def _point(point: PointView | None, point_id: str) -> PointView:
    if point is None:
        raise Rejected(
            "unknown_service_point", f"service point {point_id} is not known", service_point_id=point_id
        )
    return point


def _free(state: Schedule, starts_at: datetime, ends_at: datetime) -> None:
    for shift in state.shifts.values():
        # Shift.overlaps, inlined: a team's schedule holds every shift of the campaign, so this
        # loop runs over all of them for each dispatch (two method calls a shift showed)
        if shift.status != "cancelled" and shift.starts_at < ends_at and starts_at < shift.ends_at:
            raise Rejected(
                "shift_overlaps",
                f"the team is already dispatched {shift.starts_at.isoformat()} to "
                f"{shift.ends_at.isoformat()} ({shift.dispatch_id})",
                conflicting_dispatch_id=shift.dispatch_id,
                conflicting_starts_at=shift.starts_at.isoformat(),
                conflicting_ends_at=shift.ends_at.isoformat(),
                conflicting_service_point_id=shift.service_point_id,
            )


def shift_of(state: Schedule, dispatch_id: str) -> Shift:
    shift = state.shifts.get(dispatch_id)
    if shift is None:
        raise Rejected("unknown_dispatch", f"no dispatch {dispatch_id}", dispatch_id=dispatch_id)
    if shift.status == "cancelled":
        raise Rejected("dispatch_cancelled", f"dispatch {dispatch_id} was cancelled")
    return shift


def not_in_future(policy: Policy, at: datetime, now: datetime) -> None:
    if at > now + policy.clock_skew:
        raise Rejected(
            "in_the_future",
            f"{at.isoformat()} is in the future (now {now.isoformat()}, skew {policy.clock_skew})",
        )


def request_coverage(
    state: Coverage, cmd: RequestCoverage, *, point: PointView | None, request_id: str, policy: Policy
) -> list[Event]:
    where = _point(point, cmd.service_point_id)
    in_campaign(policy, cmd.date)
    _shift_length(policy, local_datetime(cmd.date, cmd.starts_at), local_datetime(cmd.date, cmd.ends_at))
    return [
        CoverageRequested(
            request_id=request_id,
            service_point_id=where.service_point_id,
            province_code=where.province_code,
            commune_code=where.commune_code,
            date=cmd.date,
            starts_at=cmd.starts_at,
            ends_at=cmd.ends_at,
            teams_needed=cmd.teams_needed,
            focus=cmd.focus,
        )
    ]


def _dispatched(
    team: TeamView,
    point: PointView,
    dispatch_id: str,
    starts_at: datetime,
    ends_at: datetime,
    focus: Focus | None,
    **links: str | None,
) -> TeamDispatched:
    return TeamDispatched(
        dispatch_id=dispatch_id,
        team_id=team.team_id,
        service_point_id=point.service_point_id,
        province_code=point.province_code,
        commune_code=point.commune_code,
        date=local_date(starts_at),
        starts_at=starts_at,
        ends_at=ends_at,
        focus=focus or team.focus,
        **links,
    )


def dispatch_team(
    state: Schedule,
    cmd: DispatchTeam,
    *,
    team: TeamView | None,
    point: PointView | None,
    request: Request | None,
    day_closed: bool,
    dispatch_id: str,
    policy: Policy,
) -> list[Event]:
    known = _team(team, cmd.team_id)
    where = _point(point, cmd.service_point_id)
    _shift_length(policy, cmd.starts_at, cmd.ends_at)
    day = local_date(cmd.starts_at)
    in_campaign(policy, day, local_date(cmd.ends_at - timedelta(microseconds=1)))
    if day_closed:
        raise Rejected("day_closed", f"{day} is closed: no new dispatches", date=str(day))
    if cmd.coverage_request_id is not None:
        if request is None:
            raise Rejected("unknown_coverage_request", f"no coverage request {cmd.coverage_request_id}")
        if (request.service_point_id, request.date) != (where.service_point_id, day):
            raise Rejected(
                "coverage_request_mismatch",
                f"the coverage request is for {request.service_point_id} on {request.date}",
            )
    _free(state, cmd.starts_at, cmd.ends_at)
    focus = cmd.focus or (request.focus if request else None)
    return [
        _dispatched(
            known,
            where,
            dispatch_id,
            cmd.starts_at,
            cmd.ends_at,
            focus,
            coverage_request_id=cmd.coverage_request_id,
        )
    ]


def plan_rotation(
    state: Schedule,
    cmd: PlanRotation,
    *,
    team: TeamView | None,
    points: Mapping[str, PointView | None],
    rotation_id: str,
    dispatch_ids: Sequence[str],
    policy: Policy,
) -> list[Event]:
    """One shift a day, cycling over the points; every shift is checked, none is kept on refusal.
    The rotation is one event (one append): :class:`TeamRotationPlanned` holding every shift."""
    known = _team(team, cmd.team_id)
    where = [_point(points.get(p), p) for p in cmd.service_point_ids]
    days = (cmd.to_date - cmd.from_date).days + 1
    if not 1 <= days <= policy.max_rotation_days:
        raise Rejected(
            "invalid_rotation",
            f"a rotation covers 1 to {policy.max_rotation_days} days; this one {days}",
            days=days,
        )
    if len(dispatch_ids) < days:
        raise ValueError("one dispatch id per day is needed")
    in_campaign(policy, cmd.from_date, cmd.to_date)
    shifts: list[RotationShift] = []
    for n in range(days):
        day = cmd.from_date + timedelta(days=n)
        starts_at = local_datetime(day, cmd.daily_starts_at)
        ends_at = local_datetime(day, cmd.daily_ends_at)
        _shift_length(policy, starts_at, ends_at)
        try:
            _free(state, starts_at, ends_at)
        except Rejected as rej:
            raise Rejected(
                rej.code,
                f"{day}: {rej.reason}; nothing of the rotation was kept",
                date=str(day),
                **rej.details,
            ) from None
        point = where[n % len(where)]
        shifts.append(
            RotationShift(
                dispatch_id=dispatch_ids[n],
                service_point_id=point.service_point_id,
                province_code=point.province_code,
                commune_code=point.commune_code,
                date=local_date(starts_at),
                starts_at=starts_at,
                ends_at=ends_at,
            )
        )
    return [
        TeamRotationPlanned(
            rotation_id=rotation_id,
            team_id=known.team_id,
            focus=cmd.focus or known.focus,
            shifts=tuple(shifts),
        )
    ]
