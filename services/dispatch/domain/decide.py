"""The rules: ``decide`` functions that turn (state, command, facts) into events or a rejection.

Every rule refuses with its own snake_case code. Facts from the registry (team, service point), the
current time and the new ids are passed in: nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from services.dispatch.domain.commands import (
    CancelDispatch,
    CheckIn,
    CheckOut,
    DispatchTeam,
    PlanRotation,
    ReportActivity,
    RequestCoverage,
)
from services.dispatch.domain.model import (
    REPORT_FIELDS,
    Coverage,
    Day,
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
    ActivityReported,
    CoverageRequested,
    DayClosed,
    DispatchCancelled,
    DispatchMarkedNoShow,
    OverCapacityRecorded,
    Source,
    TeamCheckedIn,
    TeamCheckedOut,
    TeamDispatched,
)
from shared.events.registry import Focus


def _in_campaign(policy: Policy, *days: date) -> None:
    for day in days:
        if not policy.campaign_start <= day <= policy.campaign_end:
            raise Rejected("outside_campaign", f"{day} is outside the campaign "
                           f"({policy.campaign_start} to {policy.campaign_end})", date=str(day))


def _shift_length(policy: Policy, starts_at: datetime, ends_at: datetime) -> None:
    length = ends_at - starts_at
    if not policy.min_shift <= length <= policy.max_shift:
        raise Rejected("invalid_shift_length", f"a shift lasts {policy.min_shift} to "
                       f"{policy.max_shift}; this one lasts {length}",
                       minutes=int(length.total_seconds() // 60))


def _team(team: TeamView | None, team_id: str) -> TeamView:
    if team is None:
        raise Rejected("unknown_team", f"team {team_id} is not known to dispatch (yet)",
                       team_id=team_id)
    if team.disbanded:
        raise Rejected("team_disbanded", f"team {team_id} is disbanded", team_id=team_id)
    return team


def _point(point: PointView | None, point_id: str) -> PointView:
    if point is None:
        raise Rejected("unknown_service_point", f"service point {point_id} is not known",
                       service_point_id=point_id)
    return point


def _free(state: Schedule, starts_at: datetime, ends_at: datetime) -> None:
    for shift in state.shifts.values():
        if shift.overlaps(starts_at, ends_at):
            raise Rejected(
                "shift_overlaps",
                f"the team is already dispatched {shift.starts_at.isoformat()} to "
                f"{shift.ends_at.isoformat()} ({shift.dispatch_id})",
                conflicting_dispatch_id=shift.dispatch_id,
                conflicting_starts_at=shift.starts_at.isoformat(),
                conflicting_ends_at=shift.ends_at.isoformat(),
                conflicting_service_point_id=shift.service_point_id,
            )


def _shift(state: Schedule, dispatch_id: str) -> Shift:
    shift = state.shifts.get(dispatch_id)
    if shift is None:
        raise Rejected("unknown_dispatch", f"no dispatch {dispatch_id}", dispatch_id=dispatch_id)
    if shift.status == "cancelled":
        raise Rejected("dispatch_cancelled", f"dispatch {dispatch_id} was cancelled")
    return shift


def _not_future(policy: Policy, at: datetime, now: datetime) -> None:
    if at > now + policy.clock_skew:
        raise Rejected("in_the_future", f"{at.isoformat()} is in the future "
                       f"(now {now.isoformat()}, skew {policy.clock_skew})")


def request_coverage(state: Coverage, cmd: RequestCoverage, *, point: PointView | None,
                     request_id: str, policy: Policy) -> list[Event]:
    where = _point(point, cmd.service_point_id)
    _in_campaign(policy, cmd.date)
    _shift_length(policy, local_datetime(cmd.date, cmd.starts_at),
                  local_datetime(cmd.date, cmd.ends_at))
    return [CoverageRequested(
        request_id=request_id, service_point_id=where.service_point_id,
        province_code=where.province_code, commune_code=where.commune_code, date=cmd.date,
        starts_at=cmd.starts_at, ends_at=cmd.ends_at, teams_needed=cmd.teams_needed,
        focus=cmd.focus)]


def _dispatched(team: TeamView, point: PointView, dispatch_id: str, starts_at: datetime,
                ends_at: datetime, focus: Focus | None, **links: str | None) -> TeamDispatched:
    return TeamDispatched(
        dispatch_id=dispatch_id, team_id=team.team_id, service_point_id=point.service_point_id,
        province_code=point.province_code, commune_code=point.commune_code,
        date=local_date(starts_at), starts_at=starts_at, ends_at=ends_at,
        focus=focus or team.focus, **links)


def dispatch_team(state: Schedule, cmd: DispatchTeam, *, team: TeamView | None,
                  point: PointView | None, request: Request | None, day_closed: bool,
                  dispatch_id: str, policy: Policy) -> list[Event]:
    known = _team(team, cmd.team_id)
    where = _point(point, cmd.service_point_id)
    _shift_length(policy, cmd.starts_at, cmd.ends_at)
    day = local_date(cmd.starts_at)
    _in_campaign(policy, day, local_date(cmd.ends_at - timedelta(microseconds=1)))
    if day_closed:
        raise Rejected("day_closed", f"{day} is closed: no new dispatches", date=str(day))
    if cmd.coverage_request_id is not None:
        if request is None:
            raise Rejected("unknown_coverage_request",
                           f"no coverage request {cmd.coverage_request_id}")
        if (request.service_point_id, request.date) != (where.service_point_id, day):
            raise Rejected("coverage_request_mismatch", "the coverage request is for "
                           f"{request.service_point_id} on {request.date}")
    _free(state, cmd.starts_at, cmd.ends_at)
    focus = cmd.focus or (request.focus if request else None)
    return [_dispatched(known, where, dispatch_id, cmd.starts_at, cmd.ends_at, focus,
                        coverage_request_id=cmd.coverage_request_id)]


def plan_rotation(state: Schedule, cmd: PlanRotation, *, team: TeamView | None,
                  points: Mapping[str, PointView | None], rotation_id: str,
                  dispatch_ids: Sequence[str], policy: Policy) -> list[Event]:
    """One shift a day, cycling over the points; every shift is checked, none is kept on refusal."""
    known = _team(team, cmd.team_id)
    where = [_point(points.get(p), p) for p in cmd.service_point_ids]
    days = (cmd.to_date - cmd.from_date).days + 1
    if not 1 <= days <= policy.max_rotation_days:
        raise Rejected("invalid_rotation", f"a rotation covers 1 to {policy.max_rotation_days} "
                       f"days; this one {days}", days=days)
    if len(dispatch_ids) < days:
        raise ValueError("one dispatch id per day is needed")
    _in_campaign(policy, cmd.from_date, cmd.to_date)
    out: list[Event] = []
    for n in range(days):
        day = cmd.from_date + timedelta(days=n)
        starts_at = local_datetime(day, cmd.daily_starts_at)
        ends_at = local_datetime(day, cmd.daily_ends_at)
        _shift_length(policy, starts_at, ends_at)
        try:
            _free(state, starts_at, ends_at)
        except Rejected as rej:
            raise Rejected(rej.code, f"{day}: {rej.reason}; nothing of the rotation was kept",
                           date=str(day), **rej.details) from None
        out.append(_dispatched(known, where[n % len(where)], dispatch_ids[n], starts_at, ends_at,
                               cmd.focus, rotation_id=rotation_id))
    return out


def cancel_dispatch(state: Schedule, cmd: CancelDispatch) -> list[Event]:
    shift = _shift(state, cmd.dispatch_id)
    if shift.status in ("checked_in", "checked_out"):
        raise Rejected("already_checked_in", "a dispatch the team checked in to stays on record")
    if shift.status == "no_show":
        raise Rejected("marked_no_show", f"dispatch {shift.dispatch_id} was marked no-show")
    return [DispatchCancelled(dispatch_id=shift.dispatch_id, team_id=shift.team_id,
                              reason=cmd.reason, **shift.where())]


def check_in(state: Schedule, cmd: CheckIn, *, now: datetime, policy: Policy) -> list[Event]:
    shift = _shift(state, cmd.dispatch_id)
    if shift.status == "no_show":
        raise Rejected("marked_no_show", f"{shift.date} was closed with this dispatch a no-show")
    if shift.status != "scheduled":
        raise Rejected("already_checked_in", f"checked in at {shift.checked_in_at}")
    _not_future(policy, cmd.at, now)
    if not shift.starts_at - policy.checkin_grace <= cmd.at <= shift.ends_at:
        raise Rejected("outside_shift_window", f"check-in is open from {policy.checkin_grace} "
                       f"before {shift.starts_at.isoformat()} to {shift.ends_at.isoformat()}")
    return [TeamCheckedIn(dispatch_id=shift.dispatch_id, team_id=shift.team_id, at=cmd.at,
                          late=cmd.at > shift.starts_at, **shift.where())]


def check_out(state: Schedule, cmd: CheckOut, *, now: datetime, policy: Policy) -> list[Event]:
    shift = _shift(state, cmd.dispatch_id)
    if shift.status == "checked_out":
        raise Rejected("already_checked_out", f"checked out at {shift.checked_out_at}")
    if shift.status != "checked_in" or shift.checked_in_at is None:
        raise Rejected("not_checked_in", f"dispatch {shift.dispatch_id} is {shift.status}")
    _not_future(policy, cmd.at, now)
    if cmd.at < shift.checked_in_at:
        raise Rejected("check_out_before_check_in",
                       f"checked in at {shift.checked_in_at.isoformat()}")
    if cmd.at > shift.ends_at + policy.checkin_grace:
        raise Rejected("outside_shift_window", f"check-out closes {policy.checkin_grace} after "
                       f"{shift.ends_at.isoformat()}")
    return [TeamCheckedOut(dispatch_id=shift.dispatch_id, team_id=shift.team_id, at=cmd.at,
                           **shift.where())]


def report_activity(state: Schedule, cmd: ReportActivity, *, policy: Policy,
                    source: Source = "command") -> list[Event]:
    shift = _shift(state, cmd.dispatch_id)
    if shift.status not in ("checked_in", "checked_out"):
        raise Rejected("not_checked_in", f"dispatch {shift.dispatch_id} is {shift.status}: "
                       "only a checked-in dispatch reports")
    if shift.reported:
        raise Rejected("already_reported", f"dispatch {shift.dispatch_id} has its report")
    counts = {name: int(getattr(cmd, name)) for name in REPORT_FIELDS}
    for name, value in counts.items():
        if value < 0:
            raise Rejected("negative_count", f"{name} is {value}", field=name)
    if counts["elderly_attendees"] > counts["session_attendees"]:
        raise Rejected("elderly_exceed_attendees", "more elderly attendees than attendees")
    if counts["session_attendees"] > 0 and counts["digital_sessions_held"] == 0:
        raise Rejected("attendees_without_session", "attendees reported but no session held")
    for name, value in counts.items():
        limit = policy.report_limits.get(name)
        if limit is not None and value > limit:
            raise Rejected("implausible_report", f"{name} {value} is above {limit} for one shift",
                           field=name, value=value, limit=limit)
    return [ActivityReported(dispatch_id=shift.dispatch_id, team_id=shift.team_id,
                             source=source, **counts, **shift.where())]


def mark_no_shows(state: Schedule, day: date) -> list[Event]:
    """Every shift of ``day`` still only scheduled: each becomes a no-show, once."""
    return [DispatchMarkedNoShow(dispatch_id=s.dispatch_id, team_id=s.team_id,
                                 **s.where())
            for s in sorted(state.on(day), key=lambda s: s.starts_at) if s.status == "scheduled"]


def close_day(state: Day, day: date, *, hub: str, no_shows: int, now: datetime,
              policy: Policy) -> list[Event]:
    """A closed day stays closed: closing it again is accepted and records nothing."""
    if day > local_date(now):
        raise Rejected("in_the_future", f"{day} has not begun (today is {local_date(now)})")
    _in_campaign(policy, day)
    return [] if state.closed else [DayClosed(hub=hub, date=day, no_shows=no_shows)]


def record_over_capacity(state: Coverage, finding: OverCapacityRecorded) -> list[Event]:
    return [] if finding.dispatch_id in state.over_capacity else [finding]
