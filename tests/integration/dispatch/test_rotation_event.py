"""A rotation is one message in the stream; a log holding the old batch form (one TeamDispatched a
day, appended as one atomic batch) gives the same schedule, check-in and no-show behaviour and the
same reporting figures and provenance, on a real nats-server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from services.dispatch.app import DispatchApp
from services.dispatch.domain.model import Shift, local_datetime, scoped_id
from services.reporting.app import ReportingApp
from shared.aggregates import CommandContext
from shared.envelope import derive_id, event_subject
from shared.events.dispatch import TeamDispatched
from shared.eventstore import EventStore
from shared.hosting import hosted
from shared.refdata import communes_of
from shared.settings import Settings, load_settings
from tests.integration.dispatch.conftest import NOW, Ask, Registry, Start, known
from tests.support.waiting import eventually

FIRST, DAYS = date(2025, 7, 7), 3  # Monday to Wednesday, all before the test clock's 10 July
PLACES = {"01": "t1", "79": "t2"}  # t1 plans by command (one event), t2's log has the old batch
HOURS = ("08:00", "12:00")


@pytest.fixture
async def reporting(provisioned: Settings, tmp_path: Path) -> AsyncIterator[ReportingApp]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'rotation.db'}"
    settings = load_settings(**{**provisioned.model_dump(), "database_url": url, "http_port": 0})
    async with hosted(settings, "reporting", ReportingApp) as svc:
        yield svc


async def places(registry: Registry, dispatch: DispatchApp) -> dict[str, list[str]]:
    """Per province, its team and two service points in two of its communes."""
    points: dict[str, list[str]] = {}
    for province, team in PLACES.items():
        await registry.team(team, province=province, commune=None)
        points[province] = [f"{team}p{n}" for n in range(2)]
        for n, commune in enumerate(communes_of(province)[:2]):
            seq = await registry.point(points[province][n], province=province, commune=commune.code)
    await known(dispatch, seq)
    return points


async def old_batch_form(dispatch: DispatchApp, store: EventStore, points: list[str]) -> list[str]:
    """The rotation as the code before the one-event form wrote it: one validated TeamDispatched
    a day (ids derived as plan_rotation derives them), appended in one atomic batch."""
    command_id, team = uuid.uuid4().hex, "t2"
    ctx = CommandContext(command_id=command_id, correlation_id=command_id, actor="test", received_at=NOW)
    token = derive_id(store.hub, command_id, "rotation").replace("-", "")
    ids, events = [], []
    for n in range(DAYS):
        day = FIRST + timedelta(days=n)
        point = dispatch.service.view.points[points[n % 2]]
        dispatch_id = scoped_id(team, derive_id(store.hub, command_id, "rotation", str(n)).replace("-", ""))
        ids.append(dispatch_id)
        events.append(
            TeamDispatched(
                dispatch_id=dispatch_id,
                team_id=team,
                service_point_id=point.service_point_id,
                province_code=point.province_code,
                commune_code=point.commune_code,
                date=day,
                starts_at=local_datetime(day, time.fromisoformat(HOURS[0])),
                ends_at=local_datetime(day, time.fromisoformat(HOURS[1])),
                focus="admin_support",
                rotation_id=token,
            )
        )
    envelopes = [dispatch.service.schedules.envelope(team, ctx, ev, n) for n, ev in enumerate(events)]
    await store.append(event_subject(store.hub, "dispatch", "schedule", team), envelopes, expected=0)
    return ids


def shape(shifts: Mapping[str, Shift], ids: list[str]) -> list[tuple[Any, ...]]:
    """A schedule's shifts without the team's own ids and places: what both teams must share."""
    return [
        (s.date, s.starts_at, s.ends_at, s.focus, s.status, s.checked_in_at, s.report)
        for s in (shifts[i] for i in ids)
    ]


async def test_a_rotation_is_one_message_and_reads_like_the_old_batch(
    start_dispatch: Start,
    registry: Registry,
    store: EventStore,
    ask: Ask,
    nc: Client,
    reporting: ReportingApp,
) -> None:
    """Given t1's rotation planned by command and t2's same rotation written in the old batch
    form, when both are checked in on day two and day one is closed, then t1's rotation is one
    message, and every reading agrees: schedules reloaded from the log, check-in and overlap
    answers, no-shows, reporting's figures per province, day and team, and provenance (t1's
    dispatches name its one rotation event, t2's their own events)."""
    dispatch = await start_dispatch()
    points = await places(registry, dispatch)
    planned = await ask(
        "plan_rotation",
        team_id="t1",
        service_point_ids=points["01"],
        from_date=FIRST.isoformat(),
        to_date=(FIRST + timedelta(days=DAYS - 1)).isoformat(),
        daily_starts_at=HOURS[0],
        daily_ends_at=HOURS[1],
    )
    assert planned["accepted"], planned
    new_ids = [d["dispatch_id"] for d in planned["result"]["dispatches"]]
    assert [d["service_point_id"] for d in planned["result"]["dispatches"]] == [
        *points["01"],
        points["01"][0],
    ]
    assert [e["event_type"] for e in planned["events"]] == ["dispatch.team_rotation_planned"]
    records = await store.read(event_subject(store.hub, "dispatch", "schedule", "t1"))
    assert [r.envelope.event_type for r in records] == ["dispatch.team_rotation_planned"]
    assert records[0].seq == planned["version"]
    old_ids = await old_batch_form(dispatch, store, points["79"])
    ids = {"t1": new_ids, "t2": old_ids}

    # the same answers to the same commands
    for team in ("t1", "t2"):
        at = f"{FIRST + timedelta(days=1)}T08:05:00+07:00"
        checked = await ask("check_in", dispatch_id=ids[team][1], at=at)
        assert checked["accepted"]
        assert checked["result"] == {"dispatch_id": ids[team][1], "team_id": team}
        clash = await ask(
            "dispatch_team",
            team_id=team,
            service_point_id=points["01" if team == "t1" else "79"][0],
            starts_at=f"{FIRST + timedelta(days=2)}T11:00:00+07:00",
            ends_at=f"{FIRST + timedelta(days=2)}T15:00:00+07:00",
        )
        assert (clash["code"], clash["details"]["conflicting_dispatch_id"]) == (
            "shift_overlaps",
            ids[team][2],
        )
    closed = await ask("close_day", date=FIRST.isoformat())
    assert closed["accepted"], closed
    assert closed["result"]["no_shows"] == 2

    # the same schedules, read from the log by a replica that never cached them
    fresh = await start_dispatch("b")
    t1, t2 = [(await fresh.service.schedules.load(t)).state.shifts for t in ("t1", "t2")]
    assert shape(t1, new_ids) == shape(t2, old_ids)
    assert [s.status for s in (t1[i] for i in new_ids)] == ["no_show", "checked_in", "scheduled"]
    assert fresh.projection.view.open_teams(FIRST + timedelta(days=2)) == ["t1", "t2"]

    # the same reporting figures, and provenance that names real events
    last = (await nc.jetstream().stream_info(store.stream)).state.last_seq

    async def caught_up() -> bool:
        return (await reporting.store.position()).position >= last

    await eventually(caught_up, "reporting caught up", 30)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{reporting.server.port}") as http:
        served = {}
        for province in PLACES:
            figures = (await http.get(f"/v1/provinces/{province}")).json()["figures"]
            daily = (await http.get("/v1/daily", params={"province": province})).json()["items"]
            served[province] = (figures, [{k: v for k, v in d.items() if k != "code"} for d in daily])
        assert served["01"] == served["79"]
        assert (served["01"][0]["dispatches"], served["01"][0]["check_ins"], served["01"][0]["no_shows"]) == (
            3,
            1,
            1,
        )
        teams = {r["team_id"]: r for r in (await http.get("/v1/teams")).json()["items"]}
        keys = ("dispatches", "check_ins", "no_shows", "active", "focus")
        assert {k: teams["t1"][k] for k in keys} == {k: teams["t2"][k] for k in keys}
        traced = {}
        for province in PLACES:
            body = (
                await http.get("/v1/provenance", params={"figure": "dispatches", "province": province})
            ).json()
            assert body["sum"] == body["served"] == DAYS
            traced[province] = body["items"]
    rotation_seq = records[0].seq
    assert [(i["stream_sequence"], i["event_type"], i["contribution"]) for i in traced["01"]] == [
        (rotation_seq, "dispatch.team_rotation_planned", 1)
    ] * DAYS
    assert {i["event_id"] for i in traced["01"]} == {planned["events"][0]["event_id"]}
    assert sorted(i["day"] for i in traced["01"]) == [i["day"] for i in traced["79"]]
    assert len({i["stream_sequence"] for i in traced["79"]}) == DAYS
    assert {i["event_type"] for i in traced["79"]} == {"dispatch.team_dispatched"}
