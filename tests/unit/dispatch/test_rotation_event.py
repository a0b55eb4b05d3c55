"""A rotation is one ``TeamRotationPlanned``, and every dispatch consumer reads it exactly as the
batch of one ``TeamDispatched`` a day that older logs hold (pure, no I/O)."""

from __future__ import annotations

from datetime import date

import pytest

from services.dispatch.domain import attendance, decide
from services.dispatch.domain.commands import CheckIn
from services.dispatch.domain.history import History
from services.dispatch.facts import FactsView
from shared.decider import Rejected
from shared.events import Event
from shared.events.dispatch import (
    CoverageRequested,
    OverCapacityRecorded,
    TeamCheckedIn,
    TeamDispatched,
    TeamRotationPlanned,
)
from tests.unit.dispatch.support import (
    NOW,
    POINT,
    POINT2,
    POLICY,
    TEAM,
    at,
    dispatch_cmd,
    rotation_cmd,
    schedule,
)

IDS = [f"t1:{n:012x}" for n in range(5)]


def planned() -> TeamRotationPlanned:
    [event] = decide.plan_rotation(
        schedule(),
        rotation_cmd(),
        team=TEAM,
        points={"p1": POINT, "p2": POINT2},
        rotation_id="r1",
        dispatch_ids=IDS,
        policy=POLICY,
    )
    assert isinstance(event, TeamRotationPlanned)
    return event


def batch_form() -> list[TeamDispatched]:
    """The rotation as the code before the one-event form recorded it: one validated
    ``TeamDispatched`` a day, cycling over the points, each naming the rotation."""
    out = []
    for n, dispatch_id in enumerate(IDS):
        point = (POINT, POINT2)[n % 2]
        out.append(
            TeamDispatched(
                dispatch_id=dispatch_id,
                team_id="t1",
                service_point_id=point.service_point_id,
                province_code=point.province_code,
                commune_code=point.commune_code,
                date=date(2025, 7, 14 + n),
                starts_at=at(14 + n, 8),
                ends_at=at(14 + n, 12),
                focus="admin_support",
                rotation_id="r1",
            )
        )
    return out


def test_a_rotation_is_decided_as_one_event_holding_every_shift() -> None:
    """Five days over two points decide one event with five shifts, in day order, alternating."""
    event = planned()
    assert (event.rotation_id, event.team_id, event.focus) == ("r1", "t1", "admin_support")
    assert [s.dispatch_id for s in event.shifts] == IDS
    assert [s.service_point_id for s in event.shifts] == ["p1", "p2", "p1", "p2", "p1"]
    assert [s.date for s in event.shifts] == [date(2025, 7, d) for d in range(14, 19)]


def test_its_shifts_read_as_the_batch_form_recorded_them() -> None:
    """Each shift, read as a dispatch, equals the TeamDispatched the batch form logged for it."""
    assert list(planned().dispatched()) == batch_form()


def test_the_schedule_is_the_same_after_either_form() -> None:
    """Evolving the one event or the old batch gives the same schedule, shift for shift."""
    assert schedule(planned()) == schedule(*batch_form())


def test_either_form_books_the_team_against_overlaps() -> None:
    """A shift overlapping one of the rotation's days is refused the same way after either form."""
    cmd = dispatch_cmd(starts_at=at(16, 10), ends_at=at(16, 14))
    codes = []
    for state in (schedule(planned()), schedule(*batch_form())):
        with pytest.raises(Rejected) as rej:
            decide.dispatch_team(
                state,
                cmd,
                team=TEAM,
                point=POINT,
                request=None,
                day_closed=False,
                dispatch_id="t1:x",
                policy=POLICY,
            )
        codes.append((rej.value.code, rej.value.details["conflicting_dispatch_id"]))
    assert codes == [("shift_overlaps", IDS[2])] * 2


def test_a_shift_of_the_rotation_is_checked_in_and_marked_no_show_alike() -> None:
    """Check-in on a rotation's shift, and the day's no-shows, decide the same on either form."""
    now = NOW.replace(day=20)
    for_new, for_old = schedule(planned()), schedule(*batch_form())
    cmd = CheckIn(dispatch_id=IDS[1], at=at(15, 8, 5))
    checked = attendance.check_in(for_new, cmd, now=now, policy=POLICY)
    assert checked == attendance.check_in(for_old, cmd, now=now, policy=POLICY)
    assert [(type(e), e.dispatch_id) for e in checked if isinstance(e, TeamCheckedIn)] == [
        (TeamCheckedIn, IDS[1])
    ]
    assert attendance.mark_no_shows(for_new, date(2025, 7, 16)) == attendance.mark_no_shows(
        for_old, date(2025, 7, 16)
    )


def test_the_facts_view_and_history_see_the_same_shifts() -> None:
    """Bookings, open teams, day tallies, over-capacity findings and the what-if history agree."""
    asked = CoverageRequested(
        request_id="p2_20250715:r",
        service_point_id="p2",
        province_code="01",
        commune_code="00008",
        date=date(2025, 7, 15),
        starts_at=at(15, 8).timetz(),
        ends_at=at(15, 12).timetz(),
        teams_needed=1,
    )
    other = TeamDispatched(**{**batch_form()[1].model_dump(), "dispatch_id": "t2:x", "team_id": "t2"})
    forms: list[list[Event]] = [[planned()], list(batch_form())]
    views, histories, findings = [], [], []
    for form in forms:
        view, history = FactsView(), History()
        found = [f for ev in [asked, other, *form] for f in view.apply(9, ev)]
        for ev in form:
            history.apply(9, ev)
        views.append(view)
        histories.append(history.dispatches)
        findings.append(found)
    new, old = views
    assert new.bookings == old.bookings
    assert new.open_teams(date(2025, 7, 16)) == old.open_teams(date(2025, 7, 16)) == ["t1"]
    assert new.tally.days == old.tally.days
    assert findings[0] == findings[1]
    assert [f.dispatch_id for f in findings[0] if isinstance(f, OverCapacityRecorded)] == [IDS[1]]
    assert histories[0] == histories[1]
    assert set(histories[0]) == set(IDS)
