"""Hostile dispatch commands (issue 10, defects 3 and 6) against a real dispatch and nats-server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from nats.aio.client import Client

from services.dispatch.app import DispatchApp
from shared.envelope import command_subject
from tests.integration.dispatch.conftest import Ask, Registry, known

SHIFT = {
    "team_id": "t1",
    "service_point_id": "p1",
    "starts_at": "2025-07-10T08:00:00+07:00",
    "ends_at": "2025-07-10T12:00:00+07:00",
}


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("dispatch_team", {**SHIFT, "starts_at": "0001-01-01T00:00:00+23:59"}),  # OverflowError once
        ("dispatch_team", {**SHIFT, "ends_at": "9999-12-31T23:59:59-23:59"}),
        ("dispatch_team", {**SHIFT, "starts_at": 100.0}),  # a Unix time to pydantic
        ("dispatch_team", {**SHIFT, "starts_at": "100"}),
        ("dispatch_team", {**SHIFT, "starts_at": "0069-07-10T08:00:00+07:00"}),
        ("dispatch_team", {**SHIFT, "starts_at": "2025-07-10T08:00:00+20:00"}),  # no such offset
        ("dispatch_team", {**SHIFT, "actor": "ops\u202e"}),  # right-to-left override
        ("check_in", {"dispatch_id": "t1:abc", "at": 1_752_000_000}),
        ("close_day", {"date": "9999-01-01"}),
        ("close_day", {"date": 20250710}),
        (
            "request_coverage",
            {
                "service_point_id": "p1",
                "date": "2025-07-10",
                "starts_at": 28_800,
                "ends_at": "12:00",
                "teams_needed": 1,
            },
        ),
        (
            "plan_rotation",
            {
                "team_id": "t1",
                "service_point_ids": ["p1"],
                "from_date": "0069-01-01",
                "to_date": "0069-01-02",
                "daily_starts_at": "08:00",
                "daily_ends_at": "12:00",
            },
        ),
        ("cancel_dispatch", {"dispatch_id": "t1:abc", "reason": "x\x00y"}),
        ("report_activity", {"dispatch_id": "t1:abc", "people_supported": 1, "actor": "\u200bops"}),
    ],
)
async def test_odd_dates_and_invisible_text_are_invalid_not_internal(
    dispatch: DispatchApp, ask: Ask, name: str, body: dict[str, Any]
) -> None:
    """Numbers as dates, years out of range, absurd offsets, control and invisible characters:
    invalid_command (the caller's fault), never internal_error (which says "send it again")."""
    reply = await ask(name, **body)
    assert reply["code"] == "invalid_command", reply


async def test_a_well_formed_shift_still_books(dispatch: DispatchApp, registry: Registry, ask: Ask) -> None:
    """The stricter types take what the campaign sends: ISO strings with offsets, Z included."""
    await registry.team("t1")
    await known(dispatch, await registry.point("p1"))
    reply = await ask("dispatch_team", **{**SHIFT, "ends_at": "2025-07-10T05:00:00Z", "actor": "Điều phối"})
    assert reply["accepted"], reply


async def test_deep_and_huge_bodies_get_bounded_refusals(nc: Client, dispatch: DispatchApp, ask: Ask) -> None:
    """Deep nesting and big unknown keys get a small typed refusal; dispatch keeps its NATS link."""
    for body in (b"{" * 50_000, json.dumps({**SHIFT, "u" * 700_000: 1}).encode(), b'{"x":' * 5_000):
        reply = await nc.request(command_subject("dispatch", "dispatch_team"), body, timeout=10)
        assert len(reply.data) < 1_000
        assert json.loads(reply.data)["code"] == "invalid_command"
    assert dispatch.nc.is_connected
    assert (await ask("close_day", date="2025-07-01"))["accepted"]
