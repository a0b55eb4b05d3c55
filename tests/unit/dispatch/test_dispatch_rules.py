"""Rules of dispatching a team, planning a rotation and requesting coverage (pure, no I/O)."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest

from services.dispatch.domain import decide
from services.dispatch.domain.commands import RequestCoverage
from services.dispatch.domain.model import (
    Coverage,
    PointView,
    Policy,
    Request,
    Schedule,
    TeamView,
)
from shared.decider import Rejected
from shared.events import Event
from shared.events.dispatch import CoverageRequested, DispatchCancelled, TeamDispatched, shift_facts
from tests.unit.dispatch.support import (
    POINT,
    POINT2,
    POLICY,
    TEAM,
    at,
    dispatch_cmd,
    dispatched,
    rotation_cmd,
    schedule,
)


def dispatch(
    state: Schedule | None = None,
    *,
    team: TeamView | None = TEAM,
    point: PointView | None = POINT,
    request: Request | None = None,
    closed: bool = False,
    **cmd: Any,
) -> list[Event]:
    return decide.dispatch_team(
        state or schedule(),
        dispatch_cmd(**cmd),
        team=team,
        point=point,
        request=request,
        day_closed=closed,
        dispatch_id="t1:new",
        policy=POLICY,
    )


def code_of(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(Rejected) as err:
        fn(*args, **kwargs)
    return err.value.code


def test_a_free_known_team_is_dispatched_with_the_points_place_and_local_date() -> None:
    """Given a known team and point, dispatching records TeamDispatched with the point's place."""
    [ev] = dispatch(focus="digital_skills")
    assert isinstance(ev, TeamDispatched)
    assert (ev.dispatch_id, ev.province_code, ev.commune_code) == ("t1:new", "01", "00004")
    assert ev.date == date(2025, 7, 10)
    assert ev.focus == "digital_skills"


def test_local_date_is_the_shift_date_not_the_utc_date() -> None:
    """A shift starting 06:00 local (23:00 UTC the day before) is dated by the local day."""
    [ev] = dispatch(starts_at="2025-07-09T23:00:00Z", ends_at="2025-07-10T03:00:00Z")
    assert isinstance(ev, TeamDispatched)
    assert ev.date == date(2025, 7, 10)


def test_focus_defaults_to_the_teams_focus() -> None:
    """Without a focus in the command, the shift takes the team's focus."""
    [ev] = dispatch()
    assert isinstance(ev, TeamDispatched)
    assert ev.focus == "admin_support"


def test_unknown_team_is_refused() -> None:
    """A team the projection does not know is refused with unknown_team."""
    assert code_of(dispatch, team=None) == "unknown_team"


def test_disbanded_team_is_refused() -> None:
    """A disbanded team is never dispatched."""
    gone = TeamView("t1", "01", "00004", "admin_support", disbanded=True)
    assert code_of(dispatch, team=gone) == "team_disbanded"


def test_unknown_service_point_is_refused() -> None:
    """A dispatch to a point nobody registered is refused."""
    assert code_of(dispatch, point=None) == "unknown_service_point"


@pytest.mark.parametrize("hours", [(8, 8), (8, 7), (8, 21)])
def test_shift_length_must_be_sane(hours: tuple[int, int]) -> None:
    """Empty, negative and over-long shifts are refused with invalid_shift_length."""
    assert code_of(dispatch, starts_at=at(10, hours[0]), ends_at=at(10, hours[1])) == "invalid_shift_length"


@pytest.mark.parametrize("day", [(30, 6), (1, 9)])
def test_shift_outside_the_campaign_is_refused(day: tuple[int, int]) -> None:
    """Shifts before campaign_start or after campaign_end are refused."""
    assert (
        code_of(dispatch, starts_at=at(day[0], 8, month=day[1]), ends_at=at(day[0], 12, month=day[1]))
        == "outside_campaign"
    )


def test_campaign_period_is_configurable() -> None:
    """A longer campaign (a setting) admits September shifts."""
    long = Policy(campaign_end=date(2025, 9, 30))
    events = decide.dispatch_team(
        schedule(),
        dispatch_cmd(starts_at=at(2, 8, month=9), ends_at=at(2, 12, month=9)),
        team=TEAM,
        point=POINT,
        request=None,
        day_closed=False,
        dispatch_id="t1:x",
        policy=long,
    )
    assert len(events) == 1


def test_overlapping_shift_is_refused_naming_the_conflict() -> None:
    """A shift overlapping an active one is refused; details name the conflicting dispatch."""
    with pytest.raises(Rejected) as err:
        dispatch(schedule(dispatched("t1:d1")), starts_at=at(10, 11), ends_at=at(10, 15))
    assert err.value.code == "shift_overlaps"
    assert err.value.details["conflicting_dispatch_id"] == "t1:d1"


def test_back_to_back_shifts_do_not_overlap() -> None:
    """A shift starting when the previous one ends is free."""
    assert dispatch(schedule(dispatched()), starts_at=at(10, 12), ends_at=at(10, 16))


def test_a_cancelled_shift_frees_its_time() -> None:
    """After a cancellation, the same window can be booked again."""
    cancelled = DispatchCancelled(
        dispatch_id="t1:d1",
        team_id="t1",
        reason="rain",
        service_point_id="p1",
        province_code="01",
        commune_code="00004",
        date=date(2025, 7, 10),
    )
    assert dispatch(schedule(dispatched(), cancelled))


def test_a_closed_day_takes_no_new_dispatch() -> None:
    """Once a day is closed, dispatching to it is refused with day_closed."""
    assert code_of(dispatch, closed=True) == "day_closed"


def test_unknown_coverage_request_is_refused() -> None:
    """A dispatch naming a coverage request that does not exist is refused."""
    assert code_of(dispatch, coverage_request_id="p1_20250710:abc") == "unknown_coverage_request"


def test_coverage_request_for_another_point_is_refused() -> None:
    """A dispatch must go where its coverage request asked for teams."""
    req = Request("p2_20250710:abc", "p2", "01", "00008", date(2025, 7, 10), time(8), time(12), 1, None)
    assert (
        code_of(dispatch, request=req, coverage_request_id="p2_20250710:abc") == "coverage_request_mismatch"
    )


def test_rotation_cycles_over_points_one_shift_a_day() -> None:
    """A five-day rotation over two points gives five shifts, alternating points."""
    events = decide.plan_rotation(
        schedule(),
        rotation_cmd(),
        team=TEAM,
        points={"p1": POINT, "p2": POINT2},
        rotation_id="r",
        dispatch_ids=[f"t1:{n}" for n in range(5)],
        policy=POLICY,
    )
    shifts = [e for ev in events for e in shift_facts(ev) if isinstance(e, TeamDispatched)]
    assert [e.service_point_id for e in shifts] == ["p1", "p2", "p1", "p2", "p1"]
    assert {e.rotation_id for e in shifts} == {"r"}


def test_colliding_rotation_is_refused_whole_naming_the_day_and_shift() -> None:
    """One day of the rotation overlapping an existing shift refuses the whole rotation."""
    busy = schedule(dispatched("t1:d1", at(16, 10), at(16, 14)))
    with pytest.raises(Rejected) as err:
        decide.plan_rotation(
            busy,
            rotation_cmd(),
            team=TEAM,
            points={"p1": POINT, "p2": POINT2},
            rotation_id="r",
            dispatch_ids=[f"t1:{n}" for n in range(5)],
            policy=POLICY,
        )
    assert err.value.code == "shift_overlaps"
    assert err.value.details["date"] == "2025-07-16"
    assert err.value.details["conflicting_dispatch_id"] == "t1:d1"


def test_rotation_with_an_unknown_point_is_refused() -> None:
    """Every point of a rotation must be known."""
    assert (
        code_of(
            decide.plan_rotation,
            schedule(),
            rotation_cmd(),
            team=TEAM,
            points={"p1": POINT, "p2": None},
            rotation_id="r",
            dispatch_ids=[f"t1:{n}" for n in range(5)],
            policy=POLICY,
        )
        == "unknown_service_point"
    )


def test_rotation_running_past_the_campaign_is_refused() -> None:
    """A rotation ending after campaign_end is refused whole."""
    cmd = rotation_cmd(from_date=date(2025, 8, 28), to_date=date(2025, 9, 2))
    assert (
        code_of(
            decide.plan_rotation,
            schedule(),
            cmd,
            team=TEAM,
            points={"p1": POINT, "p2": POINT2},
            rotation_id="r",
            dispatch_ids=[f"t1:{n}" for n in range(6)],
            policy=POLICY,
        )
        == "outside_campaign"
    )


def test_rotation_backwards_or_too_long_is_refused() -> None:
    """A rotation ending before it starts, or longer than the limit, is invalid_rotation."""
    cmd = rotation_cmd(from_date=date(2025, 7, 18), to_date=date(2025, 7, 14))
    assert (
        code_of(
            decide.plan_rotation,
            schedule(),
            cmd,
            team=TEAM,
            points={"p1": POINT, "p2": POINT2},
            rotation_id="r",
            dispatch_ids=[],
            policy=POLICY,
        )
        == "invalid_rotation"
    )


def _coverage(**over: object) -> RequestCoverage:
    body = {
        "service_point_id": "p1",
        "date": date(2025, 7, 10),
        "starts_at": time(8),
        "ends_at": time(12),
        "teams_needed": 2,
    }
    return RequestCoverage.model_validate(body | over)


def test_coverage_request_records_the_point_and_window() -> None:
    """A coverage request for a known point inside the campaign is recorded."""
    [ev] = decide.request_coverage(Coverage(), _coverage(), point=POINT, request_id="r1", policy=POLICY)
    assert isinstance(ev, CoverageRequested)
    assert ev.teams_needed == 2
    assert ev.commune_code == "00004"


@pytest.mark.parametrize(
    ("over", "point", "code"),
    [
        ({}, None, "unknown_service_point"),
        ({"date": date(2025, 9, 10)}, POINT, "outside_campaign"),
        ({"ends_at": time(7)}, POINT, "invalid_shift_length"),
    ],
)
def test_coverage_request_rules(over: dict[str, object], point: object, code: str) -> None:
    """Coverage requests need a known point, a campaign date and a sane window."""
    assert (
        code_of(
            decide.request_coverage,
            Coverage(),
            _coverage(**over),
            point=point,
            request_id="r1",
            policy=POLICY,
        )
        == code
    )
