"""Facts that change a closed day afterwards: a late check-in of a no-show, a corrected report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from services.dispatch.domain import attendance
from services.dispatch.domain.commands import CheckIn, CorrectFieldReport, ReportActivity
from services.dispatch.domain.dayfigures import DayTally, contribution
from services.dispatch.domain.evolve import evolve_schedule
from services.dispatch.domain.model import Schedule
from shared.decider import Rejected, fold
from shared.events import Event
from shared.events.dispatch import FieldReportCorrected, NoShowWithdrawn, TeamCheckedIn
from tests.unit.dispatch.support import NOW, POLICY, at, dispatched, schedule

LATER = at(10, 20)  # the evening of the day, after its close


def then(state: Schedule, events: list[Event]) -> Schedule:
    return fold(evolve_schedule, state, events)


def code_of(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(Rejected) as err:
        fn(*args, **kwargs)
    return err.value.code


def no_show() -> Schedule:
    state = schedule(dispatched())
    return then(state, attendance.mark_no_shows(state, at(10, 8).date()))


def check_in(state: Schedule, when: datetime, now: datetime = LATER) -> list[Event]:
    return attendance.check_in(state, CheckIn(dispatch_id="t1:d1", at=when), now=now, policy=POLICY)


def reported(**counts: int) -> Schedule:
    state = schedule(dispatched())
    state = then(state, check_in(state, at(10, 8), now=NOW))
    return then(
        state, attendance.report_activity(state, ReportActivity(dispatch_id="t1:d1", **counts), policy=POLICY)
    )


def correct(state: Schedule, **counts: int) -> list[Event]:
    cmd = CorrectFieldReport(dispatch_id="t1:d1", **counts)
    return attendance.correct_field_report(state, cmd, policy=POLICY)


def test_a_no_show_checking_in_later_withdraws_the_no_show_then_checks_in() -> None:
    """A check-in of a shift the close marked no-show, at a time within the shift, is accepted:
    the no-show is withdrawn, then the check-in recorded (late, as its time says)."""
    withdrawn, checked = check_in(no_show(), at(10, 9))
    assert isinstance(withdrawn, NoShowWithdrawn)
    assert isinstance(checked, TeamCheckedIn)
    assert (withdrawn.dispatch_id, checked.at, checked.late) == ("t1:d1", at(10, 9), True)
    assert withdrawn.model_dump(include={"service_point_id", "date"}) == checked.model_dump(
        include={"service_point_id", "date"}
    )


def test_a_late_check_in_keeps_every_other_rule() -> None:
    """Outside the shift window or in the future, a late check-in is refused as any other; once
    accepted, a second one is refused."""
    state = no_show()
    assert code_of(check_in, state, at(10, 12, 30)) == "outside_shift_window"
    assert code_of(check_in, state, at(10, 9), at(10, 8)) == "in_the_future"
    state = then(state, check_in(state, at(10, 9)))
    assert state.shifts["t1:d1"].status == "checked_in"
    assert code_of(check_in, state, at(10, 9)) == "already_checked_in"
    assert attendance.mark_no_shows(state, at(10, 8).date()) == []


def test_a_late_check_in_counts_one_check_in_more_and_one_no_show_less() -> None:
    """The day's tally (what dispatch publishes) moves as reporting's figures do."""
    tally = DayTally()
    state = schedule(dispatched())
    for ev in [dispatched(), *attendance.mark_no_shows(state, at(10, 8).date())]:
        tally.apply(ev)
    for ev in check_in(no_show(), at(10, 9)):
        tally.apply(ev)
    [place] = tally.places(at(10, 8).date())
    assert place.figures == {"dispatches": 1, "check_ins": 1}


def test_a_correction_records_the_new_counts_and_what_moved() -> None:
    """Counts not given keep their value; the event has the counts as they now stand and the
    change of those that moved, which is what the day's figures move by."""
    state = reported(people_supported=10, digital_sessions_held=1, session_attendees=6)
    [ev] = correct(state, people_supported=12, session_attendees=4)
    assert isinstance(ev, FieldReportCorrected)
    assert (ev.people_supported, ev.digital_sessions_held, ev.session_attendees) == (12, 1, 4)
    assert ev.change == {"people_supported": 2, "session_attendees": -2}
    assert contribution(ev) == {"people_supported": 2, "session_attendees": -2}
    after = then(state, [ev])
    assert after.shifts["t1:d1"].report is not None
    assert correct(after, people_supported=15)[0].change == {"people_supported": 3}  # type: ignore[attr-defined]


def test_a_correction_that_changes_nothing_records_nothing() -> None:
    assert correct(reported(people_supported=10), people_supported=10) == []


def test_a_correction_of_no_report_is_refused() -> None:
    """No report to correct (checked in but not reported, or never checked in): unknown_report."""
    state = schedule(dispatched())
    assert code_of(correct, state, people_supported=1) == "unknown_report"
    assert code_of(correct, then(state, check_in(state, at(10, 8), now=NOW)), people_supported=1) == (
        "unknown_report"
    )
    assert code_of(
        attendance.correct_field_report,
        state,
        CorrectFieldReport(dispatch_id="t1:zz", people_supported=1),
        policy=POLICY,
    ) == ("unknown_dispatch")


@pytest.mark.parametrize(
    ("counts", "code"),
    [
        ({"people_supported": -1}, "negative_count"),
        ({"elderly_attendees": 9}, "elderly_exceed_attendees"),
        ({"digital_sessions_held": 0}, "attendees_without_session"),
        ({"people_supported": 501}, "implausible_report"),
    ],
)
def test_a_corrected_report_obeys_the_rules_of_a_report(counts: dict[str, int], code: str) -> None:
    state = reported(people_supported=10, digital_sessions_held=1, session_attendees=6, elderly_attendees=2)
    assert code_of(correct, state, **counts) == code
