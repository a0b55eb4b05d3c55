"""The simulator's ground truth equals what the reporting API shows, against real service processes.

A small campaign (scale 0.005: 500 volunteers, 34 teams, two months of shifts, every kind of noise)
is sent through the public command subjects of registry and dispatch processes; reporting runs as
its own process on SQLite. Every row of the final table must be ok.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from vhub.simulate import run_scenario
from vhub.simulate.model import Noise

SERVICES = ("services.registry", "services.dispatch", "services.reporting")


def _missing() -> list[str]:
    return [m for m in SERVICES if importlib.util.find_spec(f"{m}.__main__") is None]


pytestmark = pytest.mark.skipif(bool(_missing()), reason=f"not built yet: {_missing()}")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[object]:
    """The embedded stack (nats-server from the wheel, each service its own process)."""
    from tests.support.waiting import free_port
    from vhub.devstack import DevStack

    dev = DevStack(
        data_dir=tmp_path / "stack", nats_port=-1, http_port=free_port(), sync_always=False, hub="hn"
    )
    dev.start(timeout=120)
    try:
        yield dev
    finally:
        dev.stop()


async def test_small_campaign_figures_equal_the_plan(stack: object) -> None:
    """Given a fresh stack, when a small campaign runs, then every figure and noise count is ok."""
    from vhub.devstack import DevStack

    assert isinstance(stack, DevStack)
    report = await run_scenario(
        stack.nats_url,
        stack.procs["reporting"].url,
        "campaign",
        scale=0.005,
        seed=11,
        concurrency=32,
        show_progress=False,
    )
    bad = [(r.figure, r.expected, r.reported, r.note) for r in report.rows if not r.ok]
    assert not bad, (bad, report.tally.unexpected_samples[:10])
    assert report.tally.noise_seen[Noise.DOUBLE_BOOKING] > 0
    assert (
        report.tally.refused["duplicate_volunteer"] == report.tally.noise_seen[Noise.DUPLICATE_REGISTRATION]
    )


async def test_a_replayed_run_changes_nothing(stack: object) -> None:
    """Given a run applied once, when the same run id is sent again, then nothing is counted twice."""
    from vhub.devstack import DevStack

    assert isinstance(stack, DevStack)
    url = stack.procs["reporting"].url
    first = await run_scenario(
        stack.nats_url, url, "campaign", scale=0.002, seed=5, concurrency=32, show_progress=False
    )
    assert first.ok, [r for r in first.rows if not r.ok]
    again = await run_scenario(
        stack.nats_url, url, "campaign", scale=0.002, seed=5, concurrency=32, show_progress=False
    )
    assert again.replay
    assert again.ok, [r for r in again.rows if not r.ok]  # the figures still equal one run


@pytest.mark.slow
@pytest.mark.parametrize(
    ("service", "phase"),
    [("registry", "memberships"), ("dispatch", "check-ins"), ("reporting", "dispatches")],
)
async def test_ground_truth_holds_when_a_service_is_killed_mid_run(
    stack: object, service: str, phase: str
) -> None:
    """Given a service SIGKILLed as a phase begins and then restarted, when the driver resends (same
    command ids), then every figure is still exactly right: nothing lost, nothing counted twice."""
    from vhub.devstack import DevStack

    assert isinstance(stack, DevStack)
    restarts: list[asyncio.Task[None]] = []

    def on_phase(name: str) -> None:
        if name == phase and not restarts:
            stack.kill(service)  # before the phase sends anything: the kill is certain to bite
            restarts.append(asyncio.create_task(asyncio.to_thread(stack.restart, service, 120.0)))

    report = await run_scenario(
        stack.nats_url,
        stack.procs["reporting"].url,
        "campaign",
        scale=0.005,
        seed=13,
        concurrency=32,
        show_progress=False,
        request_timeout=2.0,
        on_phase=on_phase,
    )
    await asyncio.gather(*restarts)
    assert restarts, f"the {phase} phase never began"
    if service != "reporting":
        assert report.tally.timeouts > 0  # the driver did meet the dead service
    bad = [(r.figure, r.expected, r.reported) for r in report.rows if not r.ok]
    assert not bad, (bad, report.tally.unexpected_samples[:10])
