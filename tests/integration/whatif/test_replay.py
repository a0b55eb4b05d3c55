"""What-if replays of a simulated campaign, read from a real hub's log, against the live read model.

One small campaign (with coverage requests, some answered, some not) runs through registry,
dispatch and reporting processes on a nats-server from the wheel; the replays then read its log.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import nats
import pytest

from services.dispatch.domain.rules import RULES
from services.dispatch.domain.whatif import Outcome
from vhub.devstack import DevStack
from vhub.simulate import run_scenario
from vhub.whatif.run import replay_dispatch
from vhub.whatif.table import Comparison

FIRST, LAST = date(2025, 7, 1), date(2025, 8, 31)
STREAM = "VHUB_EVT_HN"


@dataclass
class Campaign:
    stack: DevStack
    reporting: str


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    """The stack, with a small campaign (seed 17) applied and checked against its ground truth."""
    from tests.support.waiting import free_port

    dev = DevStack(
        data_dir=tmp_path_factory.mktemp("whatif"), nats_port=-1, http_port=free_port(), sync_always=False
    )
    dev.start(timeout=120)
    try:
        url = dev.procs["reporting"].url
        report = asyncio.run(  # the stack's own start runs a loop too: this fixture is sync
            run_scenario(
                dev.nats_url, url, "campaign", scale=0.005, seed=17, concurrency=32, show_progress=False
            )
        )
        assert report.ok, [r for r in report.rows if not r.ok]
        yield Campaign(dev, url)
    finally:
        dev.stop()


async def _replay(c: Campaign, rules: list[str], start: date = FIRST, end: date = LAST) -> Comparison:
    return await replay_dispatch(c.stack.nats_url, STREAM, "hn", start, end, rules)


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    resp = await client.get(path, params=params)
    resp.raise_for_status()
    body: dict[str, Any] = resp.json()
    return body


async def _live(c: Campaign) -> dict[str, Any]:
    """What reporting serves: coverage per point-day, dispatches per team, border communes."""
    async with httpx.AsyncClient(base_url=c.reporting, timeout=30) as client:
        coverage = await _get(client, "/v1/coverage")
        teams: list[dict[str, Any]] = []
        page = 1
        while True:
            got = await _get(client, "/v1/teams", page=page, page_size=500)
            teams += got["items"]
            if len(teams) >= got["total"]:
                break
            page += 1
        border = await _get(client, "/v1/border-communes", date=LAST.isoformat())
        summary = await _get(client, "/v1/summary")
    return {"coverage": coverage, "teams": teams, "border": border, "summary": summary}


def _cells(o: Outcome) -> dict[tuple[str, str], tuple[int, int]]:
    return {(d.isoformat(), p): v for (d, p), v in o.coverage().items()}


async def test_as_recorded_is_what_the_read_model_shows(campaign: Campaign) -> None:
    """Given a campaign's log, when it is replayed as recorded, then every point-day's requested and
    dispatched teams, every team's dispatches and the border communes reached equal reporting's."""
    live = await _live(campaign)
    actual = (await _replay(campaign, [])).outcomes[0]
    assert actual.rule == "as-recorded"
    served = {
        (r["day"], r["service_point_id"]): (r["requested"], r["dispatched"])
        for r in live["coverage"]["items"]
        if r["requested"] or r["dispatched"]
    }
    assert actual.requests
    assert served == _cells(actual)
    per_team = {t["team_id"]: t["dispatches"] for t in live["teams"] if t["dispatches"]}
    assert Counter(b.team_id for b in actual.bookings) == per_team
    border = {b["commune_code"] for b in live["border"]["items"]}
    reached = {
        r["commune_code"]
        for r in live["coverage"]["items"]
        if r["dispatched"] and r["commune_code"] in border
    }
    figures = actual.figures()
    assert figures["border communes with a team"] == len(reached)
    assert figures["shifts"] == live["summary"]["figures"]["dispatches"]
    assert figures["requests unserved"] > 0  # the plan leaves one request in four unanswered


async def test_every_rule_keeps_the_booking_rules(campaign: Campaign) -> None:
    """Given the same log, when each rule replays it, then no team is booked twice at once or sent
    outside its province, no request gets more teams than it asked for, and rules that answer
    every request they can leave fewer unserved than the record did."""
    comparison = await _replay(campaign, sorted(RULES))
    actual = comparison.outcomes[0].figures()
    for o in comparison.outcomes[1:]:
        shifts: dict[str, list[tuple[Any, Any]]] = {}
        for b in o.bookings:
            for s, e in shifts.get(b.team_id, []):
                assert not (s < b.ends_at and b.starts_at < e), (o.rule, b)
            shifts.setdefault(b.team_id, []).append((b.starts_at, b.ends_at))
        needed = {r.request_id: r.teams_needed for r in o.requests}
        assert all(n <= needed[k] for k, n in o.served().items()), o.rule
        f = o.figures()
        assert f["sent outside own province"] == 0, o.rule
        assert f["requests"] == actual["requests"]
        if o.rule != "as-recorded":
            assert f["requests unserved"] < actual["requests unserved"], o.rule


async def test_a_replay_is_deterministic_and_changes_nothing_live(campaign: Campaign) -> None:
    """Given a campaign, when every rule is replayed twice, then both tables are identical, and the
    log (last sequence, consumers) and the read models (position, figures) are as they were."""
    nc = await nats.connect(campaign.stack.nats_url)
    js = nc.jetstream()
    try:
        before = await js.stream_info(STREAM)
        live_before = await _live(campaign)
        one = await _replay(campaign, sorted(RULES))
        two = await _replay(campaign, sorted(RULES))
        after = await js.stream_info(STREAM)
        live_after = await _live(campaign)
    finally:
        await nc.close()
    assert one.markdown() == two.markdown()
    assert [o.bookings for o in one.outcomes] == [o.bookings for o in two.outcomes]
    assert after.state.last_seq == before.state.last_seq
    assert after.state.consumer_count == before.state.consumer_count
    assert live_after == live_before


async def test_a_shorter_period_replays_only_its_requests(campaign: Campaign) -> None:
    """Given one week, when it is replayed, then only that week's requests and shifts are in it."""
    week = (await _replay(campaign, ["suggest"], date(2025, 7, 7), date(2025, 7, 13))).outcomes
    for o in week:
        assert o.requests
        assert all(date(2025, 7, 7) <= r.date <= date(2025, 7, 13) for r in o.requests)
        assert all(date(2025, 7, 7) <= b.date <= date(2025, 7, 13) for b in o.bookings)


async def test_the_command_prints_the_table(campaign: Campaign) -> None:
    """Given the campaign, when `vhub replay-dispatch --markdown` runs, then it prints what happened
    beside the rule, with the figures the replay gives."""
    from typer.testing import CliRunner

    from vhub.cli import app

    args = ["replay-dispatch", "--from", "2025-07-01", "--to", "2025-08-31", "--rule", "border-first"]
    args += ["--markdown", "--nats-url", campaign.stack.nats_url, "--hub", "hn", "--stream", STREAM]
    result = await asyncio.to_thread(CliRunner().invoke, app, args)  # the command runs its own loop
    assert result.exit_code == 0, result.output
    expected = (await _replay(campaign, ["border-first"])).markdown()
    assert result.output.strip() == expected
    refused = await asyncio.to_thread(CliRunner().invoke, app, [*args[:6], "first-come", *args[7:]])
    assert refused.exit_code != 0
    assert "unknown rule" in refused.output
