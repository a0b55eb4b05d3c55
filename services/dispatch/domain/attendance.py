"""The rules of a shift once it exists: cancel, check in, check out, report, no-show, close a day.

Same contract as :mod:`services.dispatch.domain.decide`: pure functions, one code per rule.
"""

from __future__ import annotations

from datetime import date, datetime

from services.dispatch.domain.commands import (
    CancelDispatch,
    CheckIn,
    CheckOut,
    CorrectFieldReport,
    ReportActivity,
)
from services.dispatch.domain.decide import in_campaign, not_in_future, shift_of
from services.dispatch.domain.model import REPORT_FIELDS, Coverage, Day, Policy, Schedule, local_date
from shared.decider import Rejected
from shared.events import Event
from shared.events.dispatch import (
    ActivityReported,
    DayClosed,
    DayFiguresPublished,
    DispatchCancelled,
    DispatchMarkedNoShow,
    FieldReportCorrected,
    NoShowWithdrawn,
    OverCapacityRecorded,
    PlaceFigures,
    Source,
    TeamCheckedIn,
    TeamCheckedOut,
)


def cancel_dispatch(state: Schedule, cmd: CancelDispatch) -> list[Event]:
    shift = shift_of(state, cmd.dispatch_id)
    if shift.status in ("checked_in", "checked_out"):
        raise Rejected("already_checked_in", "a dispatch the team checked in to stays on record")
    if shift.status == "no_show":
        raise Rejected("marked_no_show", f"dispatch {shift.dispatch_id} was marked no-show")
    return [
        DispatchCancelled(
            dispatch_id=shift.dispatch_id, team_id=shift.team_id, reason=cmd.reason, **shift.where()
        )
    ]


def cancel_for_disbanded_team(state: Schedule, *, now: datetime) -> list[Event]:
    """Every shift of a disbanded team still scheduled and not yet started is cancelled."""
    ahead = sorted(
        (s for s in state.shifts.values() if s.status == "scheduled" and s.starts_at > now),
        key=lambda s: (s.starts_at, s.dispatch_id),
    )
    return [
        DispatchCancelled(dispatch_id=s.dispatch_id, team_id=s.team_id, reason="team disbanded", **s.where())
        for s in ahead
    ]


def check_in(state: Schedule, cmd: CheckIn, *, now: datetime, policy: Policy) -> list[Event]:
    """A check-in of a shift its day's close marked a no-show is accepted (the field's record
    arrived late), by the same rules: the no-show is withdrawn, then the check-in recorded."""
    shift = shift_of(state, cmd.dispatch_id)
    if shift.status not in ("scheduled", "no_show"):
        raise Rejected("already_checked_in", f"checked in at {shift.checked_in_at}")
    not_in_future(policy, cmd.at, now)
    if not shift.starts_at - policy.checkin_grace <= cmd.at <= shift.ends_at:
        raise Rejected(
            "outside_shift_window",
            f"check-in is open from {policy.checkin_grace} "
            f"before {shift.starts_at.isoformat()} to {shift.ends_at.isoformat()}",
        )
    withdrawn: list[Event] = []
    if shift.status == "no_show":
        where = shift.where()
        withdrawn.append(NoShowWithdrawn(dispatch_id=shift.dispatch_id, team_id=shift.team_id, **where))
    return [
        *withdrawn,
        TeamCheckedIn(
            dispatch_id=shift.dispatch_id,
            team_id=shift.team_id,
            at=cmd.at,
            late=cmd.at > shift.starts_at,
            **shift.where(),
        ),
    ]


def check_out(state: Schedule, cmd: CheckOut, *, now: datetime, policy: Policy) -> list[Event]:
    shift = shift_of(state, cmd.dispatch_id)
    if shift.status == "checked_out":
        raise Rejected("already_checked_out", f"checked out at {shift.checked_out_at}")
    if shift.status != "checked_in" or shift.checked_in_at is None:
        raise Rejected("not_checked_in", f"dispatch {shift.dispatch_id} is {shift.status}")
    not_in_future(policy, cmd.at, now)
    if cmd.at < shift.checked_in_at:
        raise Rejected("check_out_before_check_in", f"checked in at {shift.checked_in_at.isoformat()}")
    if cmd.at > shift.ends_at + policy.checkin_grace:
        raise Rejected(
            "outside_shift_window",
            f"check-out closes {policy.checkin_grace} after {shift.ends_at.isoformat()}",
        )
    return [TeamCheckedOut(dispatch_id=shift.dispatch_id, team_id=shift.team_id, at=cmd.at, **shift.where())]


def report_activity(
    state: Schedule, cmd: ReportActivity, *, policy: Policy, source: Source = "command"
) -> list[Event]:
    shift = shift_of(state, cmd.dispatch_id)
    if shift.status not in ("checked_in", "checked_out"):
        raise Rejected(
            "not_checked_in",
            f"dispatch {shift.dispatch_id} is {shift.status}: only a checked-in dispatch reports",
        )
    if shift.reported:
        raise Rejected("already_reported", f"dispatch {shift.dispatch_id} has its report")
    counts = {name: int(getattr(cmd, name)) for name in REPORT_FIELDS}
    _plausible(counts, policy)
    return [
        ActivityReported(
            dispatch_id=shift.dispatch_id, team_id=shift.team_id, source=source, **counts, **shift.where()
        )
    ]


def correct_field_report(state: Schedule, cmd: CorrectFieldReport, *, policy: Policy) -> list[Event]:
    """The counts given replace the report's; the corrected report obeys the rules of a report.
    A correction that changes nothing is accepted and records nothing."""
    shift = shift_of(state, cmd.dispatch_id)
    if shift.report is None:
        raise Rejected("unknown_report", f"dispatch {shift.dispatch_id} has no field report to correct")
    before = dict(zip(REPORT_FIELDS, shift.report, strict=True))
    counts = {
        name: before[name] if getattr(cmd, name) is None else int(getattr(cmd, name))
        for name in REPORT_FIELDS
    }
    _plausible(counts, policy)
    change = {name: counts[name] - before[name] for name in REPORT_FIELDS if counts[name] != before[name]}
    if not change:
        return []
    return [
        FieldReportCorrected(
            dispatch_id=shift.dispatch_id, team_id=shift.team_id, change=change, **counts, **shift.where()
        )
    ]


def _plausible(counts: dict[str, int], policy: Policy) -> None:
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
            raise Rejected(
                "implausible_report",
                f"{name} {value} is above {limit} for one shift",
                field=name,
                value=value,
                limit=limit,
            )


def mark_no_shows(state: Schedule, day: date) -> list[Event]:
    """Every shift of ``day`` still only scheduled: each becomes a no-show, once."""
    return [
        DispatchMarkedNoShow(dispatch_id=s.dispatch_id, team_id=s.team_id, **s.where())
        for s in sorted(state.on(day), key=lambda s: s.starts_at)
        if s.status == "scheduled"
    ]


def close_day(
    state: Day, day: date, *, hub: str, no_shows: int, now: datetime, policy: Policy
) -> list[Event]:
    """A closed day stays closed: closing it again is accepted and records nothing."""
    if day > local_date(now):
        raise Rejected("in_the_future", f"{day} has not begun (today is {local_date(now)})")
    in_campaign(policy, day)
    return [] if state.closed else [DayClosed(hub=hub, date=day, no_shows=no_shows)]


def publish_day(state: Day, day: date, *, hub: str, places: list[PlaceFigures]) -> list[Event]:
    """A closed day's figures are published once; a day not closed has none to publish."""
    if not state.closed or state.published:
        return []
    return [DayFiguresPublished(hub=hub, date=day, places=places)]


def record_over_capacity(state: Coverage, finding: OverCapacityRecorded) -> list[Event]:
    return [] if finding.dispatch_id in state.over_capacity else [finding]
