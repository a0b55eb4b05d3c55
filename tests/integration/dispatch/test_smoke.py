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


async def test_cancel_frees_the_shift_and_a_rotation_dispatch_checks_in(
    dispatch: DispatchApp, registry: Registry, ask: Ask
) -> None:
    """A cancelled shift can be booked again; a dispatch id handed out by a rotation is usable."""
    await registry.team("t1")
    await known(dispatch, await registry.point("p1"))
    shift = {
        "team_id": "t1",
        "service_point_id": "p1",
        "starts_at": "2025-07-10T08:00:00+07:00",
        "ends_at": "2025-07-10T12:00:00+07:00",
    }
    first = await ask("dispatch_team", **shift)
    cancelled = await ask("cancel_dispatch", dispatch_id=first["result"]["dispatch_id"], reason="rain")
    assert cancelled["accepted"], cancelled
    assert (await ask("dispatch_team", **shift))["accepted"]
    rotation = await ask(
        "plan_rotation",
        team_id="t1",
        service_point_ids=["p1"],
        from_date="2025-07-07",
        to_date="2025-07-09",
        daily_starts_at="13:00",
        daily_ends_at="17:00",
    )
    assert rotation["accepted"], rotation
    did = rotation["result"]["dispatches"][1]["dispatch_id"]
    assert (await ask("check_in", dispatch_id=did, at="2025-07-08T13:05:00+07:00"))["accepted"]
    again = await ask("check_in", dispatch_id=did, at="2025-07-08T13:06:00+07:00")
    assert again["code"] == "already_checked_in"
