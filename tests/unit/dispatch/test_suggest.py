"""The suggestion ranking (pure) and the clock setting."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from services.dispatch.clock import ManualClock, clock_from_setting
from services.dispatch.domain.model import LOCAL_TZ, Request, TeamView
from services.dispatch.domain.suggest import suggest
from tests.unit.dispatch.support import at

REQ = Request("p1_20250710:r", "p1", "01", "00004", date(2025, 7, 10), time(8), time(12), 2, "digital_skills")


def team(
    team_id: str,
    commune: str | None = "00004",
    focus: str = "digital_skills",
    province: str = "01",
    members: int = 3,
    disbanded: bool = False,
) -> TeamView:
    return TeamView(
        team_id,
        province,
        commune,
        focus,  # type: ignore[arg-type]
        frozenset(f"v{n}" for n in range(members)),
        disbanded,
    )


def ranked(
    *teams: TeamView,
    busy: dict[str, list[tuple[datetime, datetime]]] | None = None,
    border: frozenset[str] = frozenset(),
    request: Request = REQ,
) -> list[str]:
    ranking = suggest(request, teams, busy=busy or {}, border_communes=border)
    return [s.team_id for s in ranking.suggestions]


def test_same_commune_ranks_before_same_province() -> None:
    """A team of the point's commune comes before one from elsewhere in the province."""
    assert ranked(team("far", commune="00008"), team("near")) == ["near", "far"]


def test_matching_focus_ranks_before_other_focus() -> None:
    """At equal distance, the team whose focus matches the request comes first."""
    assert ranked(team("admin", focus="admin_support"), team("digital")) == ["digital", "admin"]


def test_teams_with_an_overlapping_shift_are_left_out_and_counted() -> None:
    """A team busy during the requested window is not suggested; the reply counts it."""
    ranking = suggest(
        REQ,
        [team("busy"), team("free")],
        busy={"busy": [(at(10, 11), at(10, 15))]},
        border_communes=frozenset(),
    )
    assert [s.team_id for s in ranking.suggestions] == ["free"]
    assert ranking.excluded == {"busy": 1}


def test_other_provinces_and_disbanded_teams_are_left_out() -> None:
    """Only active teams of the point's province are candidates."""
    ranking = suggest(
        REQ,
        [team("x", province="79"), team("y", disbanded=True), team("ok")],
        busy={},
        border_communes=frozenset(),
    )
    assert [s.team_id for s in ranking.suggestions] == ["ok"]
    assert ranking.excluded == {"other_province": 1, "disbanded": 1}


def test_border_teams_first_for_a_border_commune() -> None:
    """For a point in a border commune, teams based in border communes rank first."""
    border = frozenset({"00004", "00012"})
    assert ranked(team("inland", commune="00008"), team("border", commune="00012"), border=border) == [
        "border",
        "inland",
    ]
    ranking = suggest(REQ, [team("a")], busy={}, border_communes=border)
    assert ranking.border_commune
    assert any("border" in r for r in ranking.suggestions[0].reasons)


def test_fewer_shifts_that_day_then_larger_team_break_ties() -> None:
    """Among equals the team with fewer shifts that day, then the larger team, comes first."""
    busy = {"worked": [(at(10, 13), at(10, 17))]}
    assert ranked(
        team("worked", members=9), team("rested", members=2), team("bigger", members=5), busy=busy
    ) == ["bigger", "rested", "worked"]


def test_every_suggestion_explains_itself() -> None:
    """Each suggestion carries its rank and readable reasons."""
    [s] = suggest(REQ, [team("a")], busy={}, border_communes=frozenset()).suggestions
    assert s.rank == 1
    assert s.reasons[0] == "same commune 00004"
    assert "focus digital_skills matches" in s.reasons


def test_the_clock_setting() -> None:
    """system is the real clock, an ISO time is fixed, running:<time> starts there and runs."""
    fixed = clock_from_setting("2025-07-06T18:00:00+07:00")
    assert fixed() == datetime(2025, 7, 6, 18, tzinfo=LOCAL_TZ)
    running = clock_from_setting("running:2025-07-06T08:00:00+07:00")
    assert timedelta(0) <= running() - datetime(2025, 7, 6, 8, tzinfo=LOCAL_TZ) < timedelta(seconds=5)
    assert clock_from_setting("system")().year >= 2025
    with pytest.raises(ValueError, match="time zone"):
        clock_from_setting("2025-07-06T18:00:00")


def test_manual_clock_moves_when_told() -> None:
    """The manual clock stays put until advanced."""
    clock = ManualClock(datetime(2025, 7, 6, 8, tzinfo=LOCAL_TZ))
    clock.advance(timedelta(hours=2))
    assert clock().hour == 10
