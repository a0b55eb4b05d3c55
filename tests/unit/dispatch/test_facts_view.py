"""Dispatch's projection of registry facts and of its own shifts (the synchronous part, no I/O)."""

from __future__ import annotations

from datetime import date, time

from services.dispatch.facts import FactsView
from shared.events import Event
from shared.events.dispatch import (
    CoverageRequested,
    DispatchCancelled,
    DispatchMarkedNoShow,
    OverCapacityRecorded,
    TeamCheckedIn,
)
from shared.events.registry import (
    BorderCommunesDesignated,
    ServicePointRegistered,
    TeamDisbanded,
    TeamFormed,
    TeamMemberAdded,
    TeamMemberRemoved,
)
from tests.unit.dispatch.support import at, dispatched

DAY = date(2025, 7, 10)


def requested(n: int) -> CoverageRequested:
    return CoverageRequested(
        request_id="p1_20250710:r",
        service_point_id="p1",
        province_code="01",
        commune_code="00004",
        date=DAY,
        starts_at=time(8),
        ends_at=time(12),
        teams_needed=n,
    )


def test_registry_facts_build_teams_points_and_border_communes() -> None:
    """Teams with members and disbandment, points and border communes are kept as they arrive."""
    view = FactsView()
    view.apply(
        1,
        TeamFormed(
            team_id="t1",
            name="A",
            province_code="01",
            commune_code="00004",
            focus="admin_support",
            organisation="o",
        ),
    )
    view.apply(2, TeamMemberAdded(team_id="t1", volunteer_id="v1"))
    view.apply(3, TeamMemberAdded(team_id="t1", volunteer_id="v2"))
    view.apply(4, TeamMemberRemoved(team_id="t1", volunteer_id="v1"))
    view.apply(
        5,
        ServicePointRegistered(
            service_point_id="p1", name="P", kind="commune_one_stop", province_code="01", commune_code="00004"
        ),
    )
    view.apply(6, BorderCommunesDesignated(commune_codes=["00004", "00012"]))
    assert view.teams["t1"].members == frozenset({"v2"})
    assert view.points["p1"].commune_code == "00004"
    assert view.border_communes == {"00004", "00012"}
    view.apply(7, TeamDisbanded(team_id="t1", reason="done"))
    assert view.teams["t1"].disbanded
    assert view.position == 7


def test_a_dispatch_beyond_the_request_is_a_finding_once_per_dispatch() -> None:
    """With one team requested, the second active dispatch there is a finding; the first is not."""
    view = FactsView()
    view.apply(1, requested(1))
    assert view.apply(2, dispatched("t1:a")) == []
    [finding] = view.apply(3, dispatched("t2:b"))
    assert isinstance(finding, OverCapacityRecorded)
    assert (finding.dispatch_id, finding.requested, finding.dispatched) == ("t2:b", 1, 2)
    view.apply(4, finding)
    assert view.recorded(finding)


def test_a_cancelled_dispatch_frees_capacity() -> None:
    """After a cancellation the point-day is back within what it requested."""
    view = FactsView()
    view.apply(1, requested(1))
    view.apply(2, dispatched("t1:a"))
    view.apply(
        3,
        DispatchCancelled(
            dispatch_id="t1:a",
            team_id="t1",
            reason="x",
            service_point_id="p1",
            province_code="01",
            commune_code="00004",
            date=DAY,
        ),
    )
    assert view.apply(4, dispatched("t2:b")) == []
    assert view.busy() == {"t2": [(at(10, 8), at(10, 12))]}


def test_no_request_means_no_over_capacity() -> None:
    """Dispatches to a point-day nobody requested coverage for are never a conflict."""
    view = FactsView()
    assert view.apply(1, dispatched("t1:a")) == []
    assert view.apply(2, dispatched("t2:b")) == []
    assert view.over_capacity("p1", DAY, "t3:c") == []


def attendance(kind: type[TeamCheckedIn] | type[DispatchMarkedNoShow], dispatch_id: str) -> Event:
    team = dispatch_id.split(":")[0]
    where = {"service_point_id": "p1", "province_code": "01", "commune_code": "00004", "date": DAY}
    if kind is TeamCheckedIn:
        return TeamCheckedIn(dispatch_id=dispatch_id, team_id=team, at=at(10, 8), **where)
    return DispatchMarkedNoShow(dispatch_id=dispatch_id, team_id=team, **where)


def test_open_teams_are_those_with_a_shift_of_the_day_neither_attended_nor_closed() -> None:
    """close_day's list: a checked-in, a cancelled and a no-show dispatch leave their team out;
    no-shows are counted per day, once per dispatch."""
    view = FactsView()
    for seq, did in enumerate(("t1:a", "t2:b", "t3:c", "t4:d"), start=1):
        view.apply(seq, dispatched(did))
    view.apply(5, dispatched("t5:e", starts=at(11, 8), ends=at(11, 12)))  # another day
    assert view.open_teams(DAY) == ["t1", "t2", "t3", "t4"]
    view.apply(6, attendance(TeamCheckedIn, "t1:a"))
    view.apply(
        7,
        DispatchCancelled(
            dispatch_id="t2:b",
            team_id="t2",
            reason="x",
            service_point_id="p1",
            province_code="01",
            commune_code="00004",
            date=DAY,
        ),
    )
    view.apply(8, attendance(DispatchMarkedNoShow, "t3:c"))
    view.apply(9, attendance(DispatchMarkedNoShow, "t3:c"))  # a second copy counts nothing
    assert view.open_teams(DAY) == ["t4"]
    assert view.open_teams(date(2025, 7, 11)) == ["t5"]
    assert view.no_shows_on(DAY) == 1
    assert view.no_shows_on(date(2025, 7, 11)) == 0
    assert sorted(view.busy()) == ["t1", "t3", "t4", "t5"]


def test_times_survive_the_compact_booking_to_the_microsecond() -> None:
    """Bookings keep shift times as integers: busy() gives back the same instants."""
    view = FactsView()
    starts = at(10, 8).replace(microsecond=123_456)
    view.apply(1, dispatched("t1:a", starts=starts, ends=at(10, 12)))
    assert view.busy() == {"t1": [(starts, at(10, 12))]}
