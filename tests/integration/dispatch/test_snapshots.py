"""Dispatch's compact snapshots hold what shared.aggregates' plain ones hold, read from the same log;
close_day visits only the teams the projection shows with a shift still merely scheduled."""

from __future__ import annotations

from datetime import timedelta

from services.dispatch.clock import ManualClock
from services.dispatch.domain.evolve import evolve_schedule
from services.dispatch.domain.model import Schedule
from services.dispatch.snapshots import CompactIndex
from shared.aggregates import Aggregates
from shared.events.dispatch import CONTEXT
from shared.eventstore import EventStore
from tests.integration.dispatch.conftest import NOW, Ask, Registry, Start, known

ROTATION = {
    "team_id": "t1",
    "service_point_ids": ["p1"],
    "from_date": "2025-07-05",
    "to_date": "2025-07-07",
    "daily_starts_at": "14:00",
    "daily_ends_at": "18:00",
}


def shift(team: str, day: int = 10) -> dict[str, str]:
    return {
        "team_id": team,
        "service_point_id": "p1",
        "starts_at": f"2025-07-{day:02d}T08:00:00+07:00",
        "ends_at": f"2025-07-{day:02d}T12:00:00+07:00",
    }


async def test_a_compact_snapshot_equals_the_plain_one_and_answers_retries(
    start_dispatch: Start, registry: Registry, store: EventStore, ask: Ask
) -> None:
    """After a dispatch, a rotation and a check-in, a schedule loaded from the log compactly and
    plainly has the same state, version and commands (sequences, types, event ids); a restarted
    replica answers each retried command as a duplicate with the first answer's events."""
    app = await start_dispatch("a")
    await registry.team("t1")
    await known(app, await registry.point("p1"))
    one = await ask("dispatch_team", command_id="cmd-one", **shift("t1"))
    rotation = await ask("plan_rotation", command_id="cmd-rot", **ROTATION)
    did = one["result"]["dispatch_id"]
    checked = await ask("check_in", command_id="cmd-in", dispatch_id=did, at="2025-07-10T08:05:00+07:00")
    for reply in (one, rotation, checked):
        assert reply["accepted"], reply
    plain = await Aggregates[Schedule](
        store, context=CONTEXT, aggregate="schedule", initial=Schedule, evolve=evolve_schedule
    ).load("t1")
    compact = await Aggregates[Schedule](
        store,
        context=CONTEXT,
        aggregate="schedule",
        initial=Schedule,
        evolve=evolve_schedule,
        index=CompactIndex,
    ).load("t1")
    assert (compact.state, compact.version) == (plain.state, plain.version)
    assert dict(compact.commands) == dict(plain.commands)
    assert len(plain.commands["cmd-rot"]) == 1  # a rotation's three shifts are one event
    cached = app.service.schedules.cached("t1")
    assert cached is not None
    assert isinstance(cached.commands, CompactIndex)
    assert dict(cached.commands) == dict(plain.commands)  # built by appends, not by reading back

    await app.stop()
    await start_dispatch("b")  # an empty cache: the retry is recognised from the log
    again = await ask("plan_rotation", command_id="cmd-rot", **ROTATION)
    assert again["duplicate"]
    assert again["events"] == rotation["events"]
    assert again["result"] == rotation["result"]


async def test_close_day_visits_only_teams_with_a_shift_still_scheduled(
    start_dispatch: Start, registry: Registry, ask: Ask, clock: ManualClock
) -> None:
    """Twenty teams dispatched on the day, seventeen checked in: close_day marks three no-shows
    visiting three teams; another close_day marks nothing and counts the same three; after one
    of them checks in late, a third counts two and visits none."""
    app = await start_dispatch("a")
    teams = [f"t{n:02d}" for n in range(20)]
    for team in teams:
        await registry.team(team)
    await known(app, await registry.point("p1"))
    ids = {}
    for team in teams:
        reply = await ask("dispatch_team", **shift(team))
        assert reply["accepted"], reply
        ids[team] = reply["result"]["dispatch_id"]
    other_day = await ask("dispatch_team", **shift("t00", day=9))  # open, but on another day
    assert other_day["accepted"], other_day
    absent = {"t03", "t11", "t17"}
    for team in teams:
        if team not in absent:
            reply = await ask("check_in", dispatch_id=ids[team], at="2025-07-10T08:10:00+07:00")
            assert reply["accepted"], reply
    clock.now = NOW + timedelta(hours=8)
    closed = await ask("close_day", date="2025-07-10")
    assert closed["accepted"], closed
    assert closed["result"] == {
        "date": "2025-07-10",
        "no_shows": 3,
        "marked_now": 3,
        "teams": 3,
        "already_closed": False,
        "published_places": 1,
    }
    again = await ask("close_day", date="2025-07-10")
    assert again["result"] | {"already_closed": True} == again["result"]
    assert (again["result"]["no_shows"], again["result"]["marked_now"], again["result"]["teams"]) == (3, 0, 0)
    late = await ask("check_in", dispatch_id=ids["t03"], at="2025-07-10T09:00:00+07:00")
    assert late["accepted"], late  # a late check-in of a no-show: it is one no-show less
    third = await ask("close_day", date="2025-07-10")
    assert (third["result"]["no_shows"], third["result"]["marked_now"], third["result"]["teams"]) == (2, 0, 0)
    still = await ask(
        "check_in", dispatch_id=other_day["result"]["dispatch_id"], at="2025-07-09T08:10:00+07:00"
    )
    assert still["accepted"], still  # the 9th was not closed: its shift stayed scheduled
