"""What-if replays over a hand-made log (pure): each rule's choices and the figures they make."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

import pytest

from services.dispatch.domain.history import History
from services.dispatch.domain.model import Request, local_datetime
from services.dispatch.domain.rules import RULES, Assignment, Situation, rule
from services.dispatch.domain.whatif import UnknownRuleError, replay
from shared.events import Event
from shared.events.dispatch import CoverageRequested, DispatchCancelled, TeamDispatched
from shared.events.registry import (
    BorderCommunesDesignated,
    ServicePointRegistered,
    TeamDisbanded,
    TeamFormed,
    TeamMemberAdded,
)

DAY = date(2025, 7, 10)
BORDER, INLAND = "00004", "00008"  # two communes of Hà Nội; the first designated a border commune
POINTS = {"pb": BORDER, "pn": INLAND}


def _formed(team_id: str, commune: str | None, members: int, focus: str = "admin_support") -> list[Event]:
    out: list[Event] = [
        TeamFormed(
            team_id=team_id,
            name=team_id,
            province_code="01",
            commune_code=commune,
            focus=focus,
            organisation="Đoàn",
        )
    ]
    out += [TeamMemberAdded(team_id=team_id, volunteer_id=f"{team_id}-v{n}") for n in range(members)]
    return out


def _asked(rid: str, point: str, need: int, day: date = DAY, start: int = 8) -> CoverageRequested:
    return CoverageRequested(
        request_id=rid,
        service_point_id=point,
        province_code="01",
        commune_code=POINTS[point],
        date=day,
        starts_at=time(start),
        ends_at=time(start + 4),
        teams_needed=need,
    )


def _sent(
    did: str, team: str, point: str, day: date = DAY, start: int = 8, request: str | None = None
) -> TeamDispatched:
    return TeamDispatched(
        dispatch_id=did,
        team_id=team,
        service_point_id=point,
        province_code="01",
        commune_code=POINTS[point],
        date=day,
        starts_at=local_datetime(day, time(start)),
        ends_at=local_datetime(day, time(start + 4)),
        focus="admin_support",
        coverage_request_id=request,
    )


def _world() -> list[Event]:
    """Teams A (border commune, 3), B (inland, 4), C (no commune, 2); a point in each commune."""
    out: list[Event] = [BorderCommunesDesignated(commune_codes=[BORDER])]
    out += [
        ServicePointRegistered(
            service_point_id=p, name=p, kind="commune_one_stop", province_code="01", commune_code=c
        )
        for p, c in POINTS.items()
    ]
    return out + _formed("tA", BORDER, 3) + _formed("tB", INLAND, 4) + _formed("tC", None, 2)


def history(*events: Event) -> History:
    h = History()
    for seq, e in enumerate([*_world(), *events], start=1):
        h.apply(seq, e)
    return h


def picks(h: History, name: str, start: date = DAY, end: date = DAY) -> list[tuple[str | None, str]]:
    return [(b.request_id, b.team_id) for b in replay(h, name, start, end).bookings]


def test_as_recorded_gives_back_the_recorded_shifts() -> None:
    """Given answered, unanswered and cancelled shifts, as-recorded keeps exactly those not cancelled."""
    h = history(
        _asked("r1", "pn", 2),
        _sent("d1", "tB", "pn", request="r1"),
        _sent("d2", "tC", "pb", start=13),
        _sent("d3", "tA", "pn", request="r1"),
        DispatchCancelled(
            dispatch_id="d3",
            team_id="tA",
            service_point_id="pn",
            province_code="01",
            commune_code=INLAND,
            date=DAY,
            reason="rain",
        ),
    )
    o = replay(h, "as-recorded", DAY, DAY)
    assert sorted(b.dispatch_id or "" for b in o.bookings) == ["d1", "d2"]
    f = o.figures()
    assert (f["requests"], f["requests unserved"], f["teams short"], f["shifts"]) == (1, 1, 1, 2)
    assert o.coverage() == {(DAY, "pb"): (0, 1), (DAY, "pn"): (2, 1)}


def test_suggest_takes_the_top_of_suggest_teams() -> None:
    """A request for two at the inland point gets the inland team (same commune) and, of the
    others, the larger one (tA, three members, over tC, two)."""
    h = history(_asked("r1", "pn", 2))
    assert sorted(picks(h, "suggest")) == [("r1", "tA"), ("r1", "tB")]


def test_border_first_serves_border_communes_before_the_others() -> None:
    """Given three free teams, an inland request for three recorded before a border request for
    one: suggest serves them in order (the border commune goes short); border-first does not."""
    h = history(_asked("r1", "pn", 3), _asked("r2", "pb", 1))
    by_suggest = replay(h, "suggest", DAY, DAY).figures()
    by_border = replay(h, "border-first", DAY, DAY)
    assert by_suggest["border requests unserved"] == 1
    assert by_border.figures()["border requests unserved"] == 0
    assert ("r2", "tA") in [(b.request_id, b.team_id) for b in by_border.bookings]  # the border team
    assert by_border.figures()["border communes with a team"] == 1


def test_least_loaded_spreads_the_work_and_same_commune_keeps_teams_home() -> None:
    """Given the inland team already out earlier in the period, least-loaded sends another team
    (outside its commune); same-commune-first sends the inland team again."""
    h = history(_sent("d0", "tB", "pn", day=date(2025, 7, 9)), _asked("r1", "pn", 1))
    start = date(2025, 7, 9)
    assert picks(h, "same-commune-first", start)[-1] == ("r1", "tB")
    least = replay(h, "least-loaded-first", start, DAY)
    assert [(b.request_id, b.team_id) for b in least.bookings][-1] == ("r1", "tA")
    assert least.figures()["sent outside own commune"] == 1


def test_busy_teams_and_teams_not_there_yet_are_never_picked() -> None:
    """A team already out over the window, one disbanded and one formed after the day's requests
    were recorded are not candidates; a team's second shift of a day makes it over-booked."""
    h = history(
        _sent("d0", "tA", "pb", start=8),
        TeamDisbanded(team_id="tC", reason="done"),
        _asked("r1", "pn", 3),
        _asked("r2", "pb", 1, start=13),
        *_formed("tD", INLAND, 5),
    )
    for name in ("suggest", "border-first", "same-commune-first", "least-loaded-first"):
        o = replay(h, name, DAY, DAY)
        chosen = [(b.request_id, b.team_id) for b in o.bookings if b.request_id]
        assert ("r1", "tB") in chosen, name
        assert all(t in ("tA", "tB") for _, t in chosen), name
        assert ("r1", "tA") not in chosen, name  # out at pb from 08:00
        assert o.figures()["requests unserved"] == 1, name


def test_over_booking_and_volunteer_hours() -> None:
    """A team out twice on a day is over-booked once; volunteer-hours are members x hours by focus."""
    h = history(_sent("d1", "tB", "pn", start=8), _sent("d2", "tB", "pb", start=13), _sent("d3", "tC", "pb"))
    o = replay(h, "as-recorded", DAY, DAY)
    assert o.figures()["teams over-booked"] == 1
    assert o.hours_by_focus() == {"admin_support": 4 * 4 + 4 * 4 + 2 * 4}


def test_a_new_rule_is_one_function() -> None:
    """Given a rule registered by name, when it is replayed, then its choices are the outcome."""

    @rule("nobody")
    def nobody(requests: Sequence[Request], s: Situation) -> list[Assignment]:
        return []

    try:
        o = replay(history(_asked("r1", "pn", 2)), "nobody", DAY, DAY)
        assert o.figures()["teams short"] == 2
    finally:
        RULES.pop("nobody")


def test_an_unknown_rule_is_refused() -> None:
    with pytest.raises(UnknownRuleError):
        replay(history(), "first-come", DAY, DAY)


def test_times_are_local() -> None:
    """The request's window is local time (Asia/Ho_Chi_Minh), as dispatch_team records it."""
    o = replay(history(_asked("r1", "pn", 1)), "suggest", DAY, DAY)
    assert o.bookings[0].starts_at == datetime.fromisoformat("2025-07-10T08:00:00+07:00")
