"""Published and restated figures, end to end: real dispatch and reporting over a real nats-server,
on SQLite and PostgreSQL. close_day publishes the day's figures; a field report arriving after
it is accepted and restates them, once; a retried report restates nothing; the figures stay the
fold of the log, also after a rebuild."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from services.reporting.app import ReportingApp
from services.reporting.db import make_engine
from services.reporting.rebuild import rebuild
from services.reporting.store import ReportingStore
from shared.envelope import event_subject
from shared.events.dispatch import DAY_FIGURES
from shared.eventstore import EventStore
from shared.hosting import hosted
from shared.settings import Settings
from tests.integration.dispatch import conftest as dispatching
from tests.integration.dispatch.conftest import NOW, Ask, Registry, Start, known
from tests.support.waiting import eventually

# dispatch's fixtures, for a real dispatch beside reporting
ask, clock, registry, start_dispatch = (
    dispatching.ask,
    dispatching.clock,
    dispatching.registry,
    dispatching.start_dispatch,
)

DAY = date(2025, 7, 10)
ON_DAY = {"starts_at": "2025-07-10T08:00:00+07:00", "ends_at": "2025-07-10T12:00:00+07:00"}
REPORT = {
    "people_supported": 0,
    "businesses_supported": 0,
    "officials_supported": 0,
    "online_applications_guided": 0,
    "digital_sessions_held": 0,
    "session_attendees": 0,
    "elderly_attendees": 0,
}


@pytest.fixture
async def reporting(rsettings: Settings) -> AsyncIterator[ReportingApp]:
    async with hosted(rsettings, "reporting", ReportingApp) as svc:
        yield svc


async def _at(svc: ReportingApp, seq: int) -> None:
    async def there() -> bool:
        return (await svc.store.position()).position >= seq

    await eventually(there, f"reporting at {seq}", 30)


async def _get(http: httpx.AsyncClient, path: str, **params: Any) -> Any:
    reply = await http.get(path, params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def _day(http: httpx.AsyncClient, province: str = "01") -> dict[str, Any]:
    rows = (await _get(http, "/v1/daily", province=province))["items"]
    [row] = [r for r in rows if r["day"] == DAY.isoformat()]
    return dict(row)


async def _published_places(store: EventStore) -> list[dict[str, Any]]:
    [published] = [
        r.envelope
        for r in await store.read(event_subject(store.hub, "dispatch", "day", DAY.isoformat()))
        if r.envelope.event_type == "dispatch.day_figures_published"
    ]
    return list(published.data["places"])


async def three_dispatched(app: Any, registry: Registry, ask: Ask) -> dict[str, str]:
    """Teams t1..t3 dispatched to point p1 on DAY (once dispatch knows them): their dispatch ids."""
    for team in ("t1", "t2", "t3"):
        await registry.team(team)
    await known(app, await registry.point("p1"))
    ids: dict[str, str] = {}
    for team in ("t1", "t2", "t3"):
        reply = await ask("dispatch_team", team_id=team, service_point_id="p1", **ON_DAY)
        ids[team] = reply["result"]["dispatch_id"]
    return ids


async def test_a_late_report_restates_a_published_day_once_also_after_a_rebuild(
    start_dispatch: Start,
    registry: Registry,
    reporting: ReportingApp,
    store: EventStore,
    ask: Ask,
    clock: Any,
    nc: Client,
    rsettings: Settings,
) -> None:
    """Given three teams dispatched on a day, two checked in and one report, when the day is
    closed, its figures are published (equal to those served) and nothing is restated; when a
    report of that day arrives afterwards, it is accepted and restates people supported 10 -> 17
    and activity reports 1 -> 2, once (a retry restates nothing); the served figures are the
    published ones plus the restatements, and a rebuild gives the same answers."""
    app = await start_dispatch("a")
    ids = await three_dispatched(app, registry, ask)
    for team in ("t1", "t2"):
        assert (await ask("check_in", dispatch_id=ids[team], at="2025-07-10T08:05:00+07:00"))["accepted"]
    first = await ask("report_activity", dispatch_id=ids["t1"], **{**REPORT, "people_supported": 10})
    assert first["accepted"], first
    clock.now = NOW + timedelta(hours=8)
    closed = await ask("close_day", command_id="close-1", date=DAY.isoformat())
    assert closed["accepted"], closed
    kinds = [e["event_type"] for e in closed["events"]]
    assert kinds == ["dispatch.day_closed", "dispatch.day_figures_published"]

    base = f"http://127.0.0.1:{reporting.server.port}"
    async with httpx.AsyncClient(base_url=base, timeout=15) as http:
        await _at(reporting, closed["version"])
        day = await _day(http)
        assert (day["published"], day["restated_at"]) == (True, None)
        assert (day["people_supported"], day["activity_reports"], day["no_shows"]) == (10, 1, 1)
        [place] = await _published_places(store)  # one commune had figures that day
        assert place["figures"] == {f: day[f] for f in DAY_FIGURES if day[f]}
        assert (await _get(http, "/v1/restatements", province="01"))["items"] == []

        late = {**REPORT, "people_supported": 7}
        reported = await ask("report_activity", command_id="late-1", dispatch_id=ids["t2"], **late)
        assert reported["accepted"], reported
        retried = await ask("report_activity", command_id="late-1", dispatch_id=ids["t2"], **late)
        assert retried["duplicate"]
        await _at(reporting, max(reported["version"], retried["version"]))
        listed = await _get(http, "/v1/restatements", province="01", **{"from": "2025-07-10"})
        seq = reported["events"][0]["seq"]
        got = {
            i["figure"]: (i["published"], i["restated"], i["change"], i["stream_sequence"])
            for i in listed["items"]
        }
        assert got == {"people_supported": (10, 17, 7, seq), "activity_reports": (1, 2, 1, seq)}
        assert listed["total"] == 2
        item = listed["items"][0]
        assert (item["event_type"], item["command_id"], item["day"]) == (
            "dispatch.activity_reported",
            "late-1",
            DAY.isoformat(),
        )
        assert (item["level"], item["code"], item["commune_code"]) == ("province", "01", "00004")
        commune = await _get(http, "/v1/restatements", commune="00004")
        assert sorted((i["level"], i["published"], i["restated"]) for i in commune["items"]) == [
            ("commune", 1, 2),
            ("commune", 10, 17),
        ]
        day = await _day(http)
        assert day["restated_at"] == item["recorded_at"]
        assert day["published"]
        assert (day["people_supported"], day["activity_reports"]) == (17, 2)  # the fold of the log
        province = await _get(http, "/v1/provinces/01")
        summary = await _get(http, "/v1/summary")
        assert province["restated_at"] == summary["restated_at"] == item["recorded_at"]
        assert province["figures"]["people_supported"] == 17
        other = await _get(http, "/v1/provinces/79")
        assert other["restated_at"] is None
        assert (await _get(http, "/v1/daily", province="01", to="2025-07-09"))["items"] == []
        before = (listed, day, province, summary)

        engine = make_engine(rsettings.database_url, writer=True)
        try:
            await rebuild(nc.jetstream(), ReportingStore(engine), stream=rsettings.read_stream)
        finally:
            await engine.dispose()
        again = await _get(http, "/v1/restatements", province="01", **{"from": "2025-07-10"})
        after = (
            again,
            await _day(http),
            await _get(http, "/v1/provinces/01"),
            await _get(http, "/v1/summary"),
        )
    strip = [{k: v for k, v in a.items() if k != "freshness"} for a in (*before, *after)]
    assert strip[:4] == strip[4:]


async def test_restatements_refuse_bad_places(reporting: ReportingApp) -> None:
    """A commune outside the province or an unknown province is refused; a reversed period
    holds no day (as for /v1/provenance)."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{reporting.server.port}") as http:
        outside = await http.get("/v1/restatements", params={"province": "01", "commune": "26734"})
        unknown = await http.get("/v1/restatements", params={"province": "99"})
        reversed_ = await http.get("/v1/restatements", params={"from": "2025-07-02", "to": "2025-07-01"})
    assert (outside.status_code, outside.json()["detail"]["reason"]) == (404, "unknown_commune")
    assert (unknown.status_code, unknown.json()["detail"]["reason"]) == (404, "unknown_province")
    assert (reversed_.status_code, reversed_.json()["items"]) == (200, [])
