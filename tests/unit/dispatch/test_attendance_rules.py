"""Rules of a shift once it exists: cancel, check in/out, reports, no-shows, closing a day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from services.dispatch.domain import attendance
from services.dispatch.domain.commands import CancelDispatch, CheckIn, CheckOut, ReportActivity
from services.dispatch.domain.evolve import evolve_day, evolve_schedule
from services.dispatch.domain.model import Day, Policy, Schedule
from shared.decider import Rejected, fold
from shared.events import Event
from shared.events.dispatch import (
    ActivityReported,
    DayClosed,
    DispatchMarkedNoShow,
    TeamCheckedIn,
)
from tests.unit.dispatch.support import NOW, POLICY, at, dispatched, schedule

DAY = date(2025, 7, 10)


def then(state: Schedule, events: list[Event]) -> Schedule:
    return fold(evolve_schedule, state, events)


def checked_in(at_: datetime | None = None) -> Schedule:
    state = schedule(dispatched())
    return then(
        state,
        attendance.check_in(state, CheckIn(dispatch_id="t1:d1", at=at_ or at(10, 8)), now=NOW, policy=POLICY),
    )


def code_of(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(Rejected) as err:
        fn(*args, **kwargs)
    return err.value.code


def check_in(state: Schedule, when: datetime, now: datetime = NOW) -> list[Event]:
    return attendance.check_in(state, CheckIn(dispatch_id="t1:d1", at=when), now=now, policy=POLICY)


def test_check_in_on_time_is_recorded_not_late() -> None:
    """A check-in before the shift starts (within the grace) is recorded, not late."""
    [ev] = check_in(schedule(dispatched()), at(10, 7, 30))
    assert isinstance(ev, TeamCheckedIn)
    assert not ev.late


def test_check_in_after_the_start_is_recorded_late() -> None:
    """A check-in after starts_at but before the end is recorded as late."""
    [ev] = check_in(schedule(dispatched()), at(10, 9, 15))
    assert isinstance(ev, TeamCheckedIn)
    assert ev.late


@pytest.mark.parametrize("when", [at(10, 6, 59), at(10, 12, 1), at(9, 8)])
def test_check_in_outside_the_window_is_refused(when: datetime) -> None:
    """Earlier than starts_at - grace, or after ends_at, a check-in is refused."""
    assert code_of(check_in, schedule(dispatched()), when) == "outside_shift_window"


def test_grace_is_configurable() -> None:
    """With a 2-hour grace, a check-in 90 minutes early is accepted."""
    wide = Policy(checkin_grace=timedelta(hours=2))
    assert attendance.check_in(
        schedule(dispatched()), CheckIn(dispatch_id="t1:d1", at=at(10, 6, 30)), now=NOW, policy=wide
    )


def test_check_in_in_the_future_is_refused() -> None:
    """A check-in time later than now + clock skew is refused, whatever the window says."""
    assert code_of(check_in, schedule(dispatched()), at(10, 8), at(10, 7, 54)) == "in_the_future"


def test_check_in_within_the_clock_skew_is_accepted() -> None:
    """A check-in up to the configured skew ahead of the clock is accepted."""
    assert check_in(schedule(dispatched()), at(10, 8), at(10, 7, 56))


def test_unknown_dispatch_is_refused() -> None:
    """Check-in for a dispatch the schedule does not hold is refused."""
    assert code_of(check_in, schedule(), at(10, 8)) == "unknown_dispatch"


def test_second_check_in_is_refused() -> None:
    """A dispatch checks in once."""
    assert code_of(check_in, checked_in(), at(10, 8, 30)) == "already_checked_in"


def test_check_out_before_check_in_is_refused() -> None:
    """Checking out a dispatch never checked in is refused with not_checked_in."""
    assert (
        code_of(
            attendance.check_out,
            schedule(dispatched()),
            CheckOut(dispatch_id="t1:d1", at=at(10, 11)),
            now=NOW,
            policy=POLICY,
        )
        == "not_checked_in"
    )


def test_check_out_earlier_than_the_check_in_is_refused() -> None:
    """A check-out time before the check-in time is refused."""
    assert (
        code_of(
            attendance.check_out,
            checked_in(at(10, 9)),
            CheckOut(dispatch_id="t1:d1", at=at(10, 8, 30)),
            now=NOW,
            policy=POLICY,
        )
        == "check_out_before_check_in"
    )


def test_check_out_long_after_the_shift_is_refused() -> None:
    """A check-out after ends_at + grace is outside the shift window."""
    assert (
        code_of(
            attendance.check_out,
            checked_in(),
            CheckOut(dispatch_id="t1:d1", at=at(10, 13, 1)),
            now=at(10, 18),
            policy=POLICY,
        )
        == "outside_shift_window"
    )


def test_check_out_then_again_is_refused() -> None:
    """A dispatch checks out once."""
    state = checked_in()
    out = CheckOut(dispatch_id="t1:d1", at=at(10, 11))
    state = then(state, attendance.check_out(state, out, now=NOW, policy=POLICY))
    assert code_of(attendance.check_out, state, out, now=NOW, policy=POLICY) == "already_checked_out"


def report(state: Schedule, **counts: int) -> list[Event]:
    return attendance.report_activity(state, ReportActivity(dispatch_id="t1:d1", **counts), policy=POLICY)


def test_report_of_a_checked_in_dispatch_is_recorded() -> None:
    """A checked-in dispatch reports its counts, with the point's place."""
    [ev] = report(
        checked_in(), people_supported=30, digital_sessions_held=1, session_attendees=20, elderly_attendees=8
    )
    assert isinstance(ev, ActivityReported)
    assert (ev.people_supported, ev.elderly_attendees, ev.source) == (30, 8, "command")


def test_report_before_check_in_is_refused() -> None:
    """Only a checked-in dispatch reports."""
    assert code_of(report, schedule(dispatched()), people_supported=3) == "not_checked_in"


def test_negative_counts_are_refused() -> None:
    """Counts are never negative."""
    assert code_of(report, checked_in(), businesses_supported=-1) == "negative_count"


def test_more_elderly_than_attendees_is_refused() -> None:
    """Elderly attendees are some of the attendees, never more."""
    assert (
        code_of(report, checked_in(), digital_sessions_held=1, session_attendees=3, elderly_attendees=4)
        == "elderly_exceed_attendees"
    )


def test_attendees_without_a_session_are_refused() -> None:
    """Session attendees need at least one session held."""
    assert code_of(report, checked_in(), session_attendees=3) == "attendees_without_session"


def test_implausible_counts_are_refused_with_the_bound() -> None:
    """Above the configured plausibility bound, a report is refused naming the field."""
    with pytest.raises(Rejected) as err:
        report(checked_in(), people_supported=501)
    assert err.value.code == "implausible_report"
    assert err.value.details == {"field": "people_supported", "value": 501, "limit": 500}


def test_a_dispatch_reports_once() -> None:
    """A second report for the same dispatch is refused."""
    state = checked_in()
    state = then(state, report(state, people_supported=1))
    assert code_of(report, state, people_supported=1) == "already_reported"


def test_cancel_records_the_reason_and_blocks_check_in() -> None:
    """A cancelled dispatch cannot be checked in."""
    state = schedule(dispatched())
    state = then(
        state, attendance.cancel_dispatch(state, CancelDispatch(dispatch_id="t1:d1", reason="storm"))
    )
    assert code_of(check_in, state, at(10, 8)) == "dispatch_cancelled"


def test_a_checked_in_dispatch_cannot_be_cancelled() -> None:
    """Work that started stays on record."""
    assert (
        code_of(attendance.cancel_dispatch, checked_in(), CancelDispatch(dispatch_id="t1:d1", reason="x"))
        == "already_checked_in"
    )


def test_no_shows_are_the_days_dispatches_not_checked_in_exactly_once() -> None:
    """Closing marks only still-scheduled shifts of that day; marking again finds nothing."""
    state = schedule(
        dispatched("t1:a", at(10, 8), at(10, 10)),
        dispatched("t1:b", at(10, 13), at(10, 15)),
        dispatched("t1:c", at(11, 8), at(11, 10)),
    )
    state = then(
        state,
        attendance.check_in(state, CheckIn(dispatch_id="t1:b", at=at(10, 13)), now=at(10, 18), policy=POLICY),
    )
    marked = attendance.mark_no_shows(state, DAY)
    assert [e.dispatch_id for e in marked if isinstance(e, DispatchMarkedNoShow)] == ["t1:a"]
    assert attendance.mark_no_shows(then(state, marked), DAY) == []


def test_closing_a_day_once_then_again_records_nothing() -> None:
    """DayClosed is recorded once; closing a closed day is accepted and records nothing."""
    [ev] = attendance.close_day(Day(), DAY, hub="hn", no_shows=2, now=NOW, policy=POLICY)
    assert isinstance(ev, DayClosed)
    assert ev.no_shows == 2
    closed = evolve_day(Day(), ev)
    assert attendance.close_day(closed, DAY, hub="hn", no_shows=2, now=NOW, policy=POLICY) == []


def test_closing_a_future_day_is_refused() -> None:
    """A day that has not begun (by the clock) cannot be closed."""
    assert (
        code_of(attendance.close_day, Day(), date(2025, 7, 11), hub="hn", no_shows=0, now=NOW, policy=POLICY)
        == "in_the_future"
    )


def test_closing_a_day_outside_the_campaign_is_refused() -> None:
    """Only campaign days are closed."""
    assert (
        code_of(attendance.close_day, Day(), date(2025, 6, 30), hub="hn", no_shows=0, now=NOW, policy=POLICY)
        == "outside_campaign"
    )


def test_check_out_in_the_future_is_refused() -> None:
    """A check-out time later than now + clock skew is refused."""
    assert (
        code_of(
            attendance.check_out,
            checked_in(),
            CheckOut(dispatch_id="t1:d1", at=at(10, 11)),
            now=at(10, 10),
            policy=POLICY,
        )
        == "in_the_future"
    )


def test_a_no_show_cannot_be_cancelled() -> None:
    """A dispatch closed as a no-show stays a no-show."""
    state = schedule(dispatched())
    state = then(state, attendance.mark_no_shows(state, DAY))
    cancel = CancelDispatch(dispatch_id="t1:d1", reason="late paperwork")
    assert code_of(attendance.cancel_dispatch, state, cancel) == "marked_no_show"


def test_plausibility_bounds_are_configurable() -> None:
    """With a higher bound for people_supported, 800 people is a plausible report."""
    generous = Policy(report_limits={"people_supported": 1_000})
    [ev] = attendance.report_activity(
        checked_in(), ReportActivity(dispatch_id="t1:d1", people_supported=800), policy=generous
    )
    assert isinstance(ev, ActivityReported)
    assert ev.people_supported == 800


def test_a_report_from_ingest_is_marked_as_such() -> None:
    """Reports arriving as outside facts carry source=ingest."""
    [ev] = attendance.report_activity(
        checked_in(),
        ReportActivity(dispatch_id="t1:d1", people_supported=2),
        policy=POLICY,
        source="ingest",
    )
    assert isinstance(ev, ActivityReported)
    assert ev.source == "ingest"
