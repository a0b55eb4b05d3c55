"""close_day marks no-shows exactly once, across a restart mid-way and a retry (a late check-in
withdraws one); times are checked against the injected clock."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from services.dispatch.app import DispatchApp
from services.dispatch.clock import ManualClock
from shared.aggregates import CommandContext
from shared.envelope import event_subject
from shared.eventstore import EventStore
from tests.integration.dispatch.conftest import NOW, Ask, Registry, Start, known

DAY = date(2025, 7, 10)


async def hub_events(store: EventStore, aggregate: str, ids: list[str]) -> Counter[str]:
    out: Counter[str] = Counter()
    for agg_id in ids:
        subject = event_subject(store.hub, "dispatch", aggregate, agg_id)
        out.update(r.envelope.event_type for r in await store.read(subject))
    return out


async def test_close_day_marks_no_shows_once_across_a_restart_and_a_retry(
    start_dispatch: Start, registry: Registry, store: EventStore, ask: Ask, clock: ManualClock
) -> None:
    """Three teams dispatched on a day, one checked in; close_day is cut off after one team,
    the replica restarts, the same command finishes the job, and a later close_day with a new
    id marks nothing: two no-shows, one DayClosed and one DayFiguresPublished in the log."""
    app = await start_dispatch("a")
    for team in ("t1", "t2", "t3"):
        await registry.team(team)
    await known(app, await registry.point("p1"))
    ids = {}
    for team in ("t1", "t2", "t3"):
        reply = await ask(
            "dispatch_team",
            team_id=team,
            service_point_id="p1",
            starts_at="2025-07-10T08:00:00+07:00",
            ends_at="2025-07-10T12:00:00+07:00",
        )
        ids[team] = reply["result"]["dispatch_id"]
    assert (await ask("check_in", dispatch_id=ids["t2"], at="2025-07-10T08:10:00+07:00"))["accepted"]
    clock.now = NOW + timedelta(hours=8)
    # the close_day "close-1" got as far as team t1, then the process went away
    ctx = CommandContext(
        command_id="close-1", correlation_id="close-1", actor="scheduler", received_at=clock()
    )
    marked, _ = await app.closing._close_team("t1", DAY, ctx)
    assert marked == 1
    await app.stop()
    await start_dispatch("a")

    resumed = await ask("close_day", command_id="close-1", date="2025-07-10")
    assert resumed["accepted"], resumed
    assert resumed["result"] == {
        "date": "2025-07-10",
        "no_shows": 2,
        "marked_now": 1,
        "teams": 1,  # only t3 still had a dispatch merely scheduled
        "already_closed": False,
        "published_places": 1,  # p1's commune: the figures of the day, published once
    }
    again = await ask("close_day", command_id="close-1", date="2025-07-10")
    assert again["duplicate"]
    later = await ask("close_day", command_id="close-2", date="2025-07-10")
    assert later["result"]["marked_now"] == 0
    assert later["result"]["already_closed"]
    schedules = await hub_events(store, "schedule", ["t1", "t2", "t3"])
    assert schedules["dispatch.dispatch_marked_no_show"] == 2
    day = await hub_events(store, "day", ["2025-07-10"])
    assert day["dispatch.day_closed"] == day["dispatch.day_figures_published"] == 1
    # the field's record of t3's arrival comes after the close: accepted, the no-show withdrawn
    late = await ask("check_in", dispatch_id=ids["t3"], at="2025-07-10T09:00:00+07:00")
    assert [e["event_type"] for e in late["events"]] == [
        "dispatch.no_show_withdrawn",
        "dispatch.team_checked_in",
    ]
    after = await ask("close_day", command_id="close-3", date="2025-07-10")
    assert (after["result"]["no_shows"], after["result"]["marked_now"]) == (1, 0)
    day = await hub_events(store, "day", ["2025-07-10"])
    assert day["dispatch.day_closed"] == day["dispatch.day_figures_published"] == 1


async def test_closed_day_takes_no_new_dispatch_and_future_days_stay_open(
    dispatch: DispatchApp, registry: Registry, ask: Ask, clock: ManualClock
) -> None:
    """After DayClosed reaches the projection, dispatching to that date is refused; a date
    after the clock's today cannot be closed."""
    await registry.team("t1")
    await registry.point("p1")
    assert (await ask("close_day", date="2025-07-11"))["code"] == "in_the_future"
    closed = await ask("close_day", date="2025-07-09")
    assert closed["accepted"], closed
    assert await dispatch.projection.wait_until(
        lambda view: date(2025, 7, 9) in view.closed_days and "t1" in view.teams, within=10
    )
    reply = await ask(
        "dispatch_team",
        team_id="t1",
        service_point_id="p1",
        starts_at="2025-07-09T14:00:00+07:00",
        ends_at="2025-07-09T16:00:00+07:00",
    )
    assert reply["code"] == "day_closed"


async def test_caller_times_are_checked_against_the_injected_clock(
    dispatch: DispatchApp, registry: Registry, ask: Ask, clock: ManualClock
) -> None:
    """With the clock at 07:00 on a campaign day, an 08:00 check-in is in the future; once the
    clock passes 08:00 the same check-in is accepted (a simulation of a past day)."""
    await registry.team("t1")
    await known(dispatch, await registry.point("p1"))
    clock.now = NOW.replace(hour=7)
    did = (
        await ask(
            "dispatch_team",
            team_id="t1",
            service_point_id="p1",
            starts_at="2025-07-10T08:00:00+07:00",
            ends_at="2025-07-10T12:00:00+07:00",
        )
    )["result"]["dispatch_id"]
    early = await ask("check_in", dispatch_id=did, at="2025-07-10T08:00:00+07:00")
    assert early["code"] == "in_the_future"
    clock.advance(timedelta(hours=1, minutes=1))
    assert (await ask("check_in", dispatch_id=did, at="2025-07-10T08:00:00+07:00"))["accepted"]
    out = await ask("check_out", dispatch_id=did, at="2025-07-10T07:59:00+07:00")
    assert out["code"] == "check_out_before_check_in"


async def test_a_disbanded_team_loses_its_shifts_ahead_and_they_are_no_no_shows(
    start_dispatch: Start, registry: Registry, store: EventStore, ask: Ask, clock: ManualClock
) -> None:
    """Disbanding a team (a registry fact) cancels the shifts it had not started, once, however
    many replicas see it and across a restart; a shift already started stays as it was, and
    close_day counts no cancelled shift as a no-show."""
    a, b = await start_dispatch("a"), await start_dispatch("b")
    await registry.team("t1")
    await known(a, await registry.point("p1"))
    await known(b, a.projection.view.position)

    async def dispatch(day: int) -> str:
        reply = await ask(
            "dispatch_team",
            team_id="t1",
            service_point_id="p1",
            starts_at=f"2025-07-{day}T13:00:00+07:00",
            ends_at=f"2025-07-{day}T17:00:00+07:00",
        )
        assert reply["accepted"], reply
        return str(reply["result"]["dispatch_id"])

    today, ahead, later = await dispatch(10), await dispatch(11), await dispatch(12)
    clock.now = NOW + timedelta(hours=2)  # 14:00 on the 10th: today's shift has started
    seq = await registry.disband("t1")
    for app in (a, b):
        await known(app, seq)
        assert await app.projection.wait_until(lambda v: not v.open_teams(date(2025, 7, 12)), within=10)
    await a.stop()
    await start_dispatch("a")  # replays the disbanding: nothing is cancelled twice
    events = (await hub_events(store, "schedule", ["t1"]))["dispatch.dispatch_cancelled"]
    assert events == 2
    cancelled = {
        r.envelope.data["dispatch_id"]
        for r in await store.read(event_subject(store.hub, "dispatch", "schedule", "t1"))
        if r.envelope.event_type == "dispatch.dispatch_cancelled"
    }
    assert cancelled == {ahead, later}
    assert (
        await ask(
            "dispatch_team",
            team_id="t1",
            service_point_id="p1",
            starts_at="2025-07-13T13:00:00+07:00",
            ends_at="2025-07-13T17:00:00+07:00",
        )
    )["code"] == "team_disbanded"
    clock.now = NOW + timedelta(days=3)
    closed = await ask("close_day", date="2025-07-11")
    assert closed["result"]["no_shows"] == 0
    assert today not in cancelled
