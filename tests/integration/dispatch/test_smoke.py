"""Smoke: one shift from dispatch to report, over NATS."""

from __future__ import annotations

from services.dispatch.app import DispatchApp
from tests.integration.dispatch.conftest import Ask, Registry, known


async def test_dispatch_check_in_report(dispatch: DispatchApp, registry: Registry, ask: Ask) -> None:
    """A known team is dispatched, checks in, reports, checks out."""
    await registry.team("t1")
    await known(dispatch, await registry.point("p1"))
    rep = await ask(
        "dispatch_team",
        team_id="t1",
        service_point_id="p1",
        starts_at="2025-07-10T08:00:00+07:00",
        ends_at="2025-07-10T12:00:00+07:00",
    )
    assert rep["accepted"], rep
    did = rep["result"]["dispatch_id"]
    rep = await ask("check_in", dispatch_id=did, at="2025-07-10T08:05:00+07:00")
    assert rep["accepted"], rep
    rep = await ask("report_activity", dispatch_id=did, people_supported=12)
    assert rep["accepted"], rep
    rep = await ask("check_out", dispatch_id=did, at="2025-07-10T11:55:00+07:00")
    assert rep["accepted"], rep
