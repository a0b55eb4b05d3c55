"""``evolve`` for dispatch's three aggregates: a team's schedule, a point-day, a hub day.

Evolve never refuses: the log is the truth. Events of other kinds leave the state as it is.
"""

from __future__ import annotations

from dataclasses import replace

from services.dispatch.domain.model import (
    REPORT_FIELDS,
    Coverage,
    Day,
    Request,
    Schedule,
    Shift,
    shared,
    shared_date,
    shared_tz,
)
from shared.events import Event
from shared.events.dispatch import (
    ActivityReported,
    CoverageRequested,
    DayClosed,
    DayFiguresPublished,
    DispatchCancelled,
    DispatchMarkedNoShow,
    FieldReportCorrected,
    NoShowWithdrawn,
    OverCapacityRecorded,
    TeamCheckedIn,
    TeamCheckedOut,
    TeamDispatched,
    TeamRotationPlanned,
)


def _with(state: Schedule, shift: Shift) -> Schedule:
    return Schedule(shifts={**state.shifts, shift.dispatch_id: shift})


def _shift(event: TeamDispatched) -> Shift:
    return Shift(  # every team's schedule is kept in memory: share what repeats
        dispatch_id=shared(event.dispatch_id),
        team_id=shared(event.team_id),
        service_point_id=shared(event.service_point_id),
        province_code=shared(event.province_code),
        commune_code=shared(event.commune_code),
        date=shared_date(event.date),
        starts_at=shared_tz(event.starts_at),
        ends_at=shared_tz(event.ends_at),
        focus=shared(event.focus),
    )


def evolve_schedule(state: Schedule, event: Event) -> Schedule:
    if isinstance(event, TeamDispatched):
        return _with(state, _shift(event))
    if isinstance(event, TeamRotationPlanned):  # its shifts, as the old batch of TeamDispatched
        added = {s.dispatch_id: s for s in map(_shift, event.dispatched())}
        return Schedule(shifts={**state.shifts, **added})
    dispatch_id = getattr(event, "dispatch_id", None)
    shift = state.shifts.get(dispatch_id) if isinstance(dispatch_id, str) else None
    if shift is None:
        return state
    if isinstance(event, DispatchCancelled):
        return _with(state, replace(shift, status="cancelled"))
    if isinstance(event, TeamCheckedIn):
        return _with(state, replace(shift, status="checked_in", checked_in_at=shared_tz(event.at)))
    if isinstance(event, TeamCheckedOut):
        return _with(state, replace(shift, status="checked_out", checked_out_at=shared_tz(event.at)))
    if isinstance(event, DispatchMarkedNoShow):
        return _with(state, replace(shift, status="no_show"))
    if isinstance(event, ActivityReported | FieldReportCorrected):
        report = tuple(getattr(event, name) for name in REPORT_FIELDS)
        return _with(state, replace(shift, report=report))
    if isinstance(event, NoShowWithdrawn):
        return _with(state, replace(shift, status="scheduled"))
    return state


def evolve_coverage(state: Coverage, event: Event) -> Coverage:
    if isinstance(event, CoverageRequested):
        request = Request(  # point-days are cached by the thousand: share what repeats
            request_id=shared(event.request_id),
            service_point_id=shared(event.service_point_id),
            province_code=shared(event.province_code),
            commune_code=shared(event.commune_code),
            date=shared_date(event.date),
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            teams_needed=event.teams_needed,
            focus=event.focus,
        )
        return replace(state, requests={**state.requests, event.request_id: request})
    if isinstance(event, OverCapacityRecorded):
        return replace(state, over_capacity=state.over_capacity | {event.dispatch_id})
    return state


def evolve_day(state: Day, event: Event) -> Day:
    if isinstance(event, DayClosed):
        return replace(state, closed=True, no_shows=event.no_shows)
    if isinstance(event, DayFiguresPublished):
        return replace(state, published=True)
    return state
