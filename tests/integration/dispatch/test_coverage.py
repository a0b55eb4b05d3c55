"""Coverage requests, over-capacity conflicts recorded once, suggestions, and the ops endpoints."""

from __future__ import annotations

from collections import Counter

import httpx

from services.dispatch.app import DispatchApp
from services.dispatch.domain.model import owner_of
from shared.envelope import event_subject
from shared.eventstore import EventStore
from tests.integration.dispatch.conftest import Ask, Registry, Start, known


def shift(team: str, request_id: str | None = None) -> dict[str, str]:
    body = {
        "team_id": team,
        "service_point_id": "p1",
        "starts_at": "2025-07-10T08:00:00+07:00",
        "ends_at": "2025-07-10T12:00:00+07:00",
    }
    return body | ({"coverage_request_id": request_id} if request_id else {})


async def test_over_capacity_is_allowed_and_recorded_once(
    start_dispatch: Start, registry: Registry, store: EventStore, ask: Ask
) -> None:
    """A point asks for one team and gets two: the second dispatch is accepted with a warning,
    and one OverCapacityRecorded lands on the point-day, even with two replicas and a restart."""
    a, b = await start_dispatch("a"), await start_dispatch("b")
    await registry.team("t1")
    await registry.team("t2")
    seq = await registry.point("p1")
    await known(a, seq)
    await known(b, seq)
    req = await ask(
        "request_coverage",
        service_point_id="p1",
        date="2025-07-10",
        starts_at="08:00",
        ends_at="12:00",
        teams_needed=1,
    )
    assert req["accepted"], req
    request_id = req["result"]["request_id"]
    first = await ask("dispatch_team", **shift("t1", request_id))
    assert first["warnings"] == []
    await known(a, first["version"])  # the warning is advisory, from the projection
    await known(b, first["version"])
    over = await ask("dispatch_team", **shift("t2", request_id))
    assert over["accepted"]
    assert [w["code"] for w in over["warnings"]] == ["over_capacity"]
    over_id = over["result"]["dispatch_id"]
    point_day = owner_of(request_id)
    assert point_day is not None
    subject = event_subject(store.hub, "dispatch", "coverage", point_day)
    assert await a.projection.wait_until(lambda view: over_id in view.over_capacity_recorded, within=10)
    await a.stop()
    c = await start_dispatch("c")  # replays the log from the start: finds the same conflict
    assert await c.projection.wait_until(lambda view: over_id in view.over_capacity_recorded, within=10)
    types = Counter(r.envelope.event_type for r in await store.read(subject))
    assert types == {"dispatch.coverage_requested": 1, "dispatch.over_capacity_recorded": 1}


async def test_suggest_teams_ranks_and_explains(dispatch: DispatchApp, registry: Registry, ask: Ask) -> None:
    """suggest_teams for a request: same commune first, busy teams left out, reasons given."""
    await registry.team("near", commune="00004", focus="digital_skills")
    await registry.team("far", commune="00008", focus="digital_skills")
    await registry.team("busy", commune="00004", focus="digital_skills")
    await registry.team("other", province="79", commune="26734")
    await registry.border("00004")
    await known(dispatch, await registry.point("p1"))
    assert (await ask("dispatch_team", **shift("busy")))["accepted"]
    req = await ask(
        "request_coverage",
        service_point_id="p1",
        date="2025-07-10",
        starts_at="09:00",
        ends_at="11:00",
        teams_needed=2,
        focus="digital_skills",
    )
    await known(dispatch, req["version"])
    reply = await ask("suggest_teams", request_id=req["result"]["request_id"])
    assert reply["accepted"], reply
    result = reply["result"]
    assert [s["team_id"] for s in result["suggestions"]] == ["near", "far"]
    assert result["border_commune"]
    assert result["excluded"] == {"busy": 1, "other_province": 1}
    assert result["suggestions"][0]["reasons"][0] == "same commune 00004"
    missing = await ask("suggest_teams", request_id="p1_20250710:nothere")
    assert missing["code"] == "unknown_coverage_request"


async def test_ops_endpoints_and_typed_refusals(dispatch: DispatchApp, ask: Ask) -> None:
    """/healthz and /readyz answer; a malformed command gets invalid_command, not silence."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{dispatch.http.port}") as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = (await http.get("/readyz")).json()
        assert ready["ready"], ready
        assert "vhub_commands_total" in (await http.get("/metrics")).text
    reply = await ask("check_in", dispatch_id="no-colon", at="2025-07-10T08:00:00")
    assert reply["code"] == "invalid_command"
    assert {e["field"] for e in reply["details"]["errors"]} == {"dispatch_id", "at"}
