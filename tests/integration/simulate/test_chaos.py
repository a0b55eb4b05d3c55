"""Chaos: a simulated campaign while every service is SIGKILLed at random moments, several times
each, and the nats-server once; the ground truth must still be exact (0 lost, 0 doubled).

The stack is `vhub dev`'s (vhub/devstack.py, supervised: whatever dies comes back after its
back-off, on the same port), with ``sync_interval: always`` as shipped. The simulator resends a
command that got no answer with the same command id; the services must make that harmless. Each
kill waits until its victim is up and healthy, so every kill bites a running process.

Short profile in ``make test`` (about a minute); ``make chaos`` runs the full size
(``VHUB_CHAOS=full``: a larger campaign, more kills). The figures are printed (``-s``).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.waiting import free_port
from vhub.devstack import DevStack
from vhub.simulate import run_scenario

pytestmark = pytest.mark.chaos
FULL = os.environ.get("VHUB_CHAOS") == "full"
SCALE = 0.05 if FULL else 0.01  # the campaign must outlast every kill, on a quiet machine too
KILLS_EACH = 5 if FULL else 3  # per service; the nats-server once
GAP_S = (1.0, 3.0) if FULL else (0.3, 1.2)  # between one victim's recovery and the next kill
SEED = int(os.environ.get("VHUB_CHAOS_SEED", "20261201"))


@dataclass
class Chaos:
    """The kills done, in order: (seconds since the campaign began, victim)."""

    stack: DevStack
    rng: random.Random
    done: list[tuple[float, str]] = field(default_factory=list)

    def plan(self) -> list[str]:
        victims = [name for name in self.stack.services for _ in range(KILLS_EACH)]
        self.rng.shuffle(victims)
        victims.insert(len(victims) // 2, "nats-server")
        return victims

    async def up(self, victim: str, within: float = 120.0) -> None:
        """Until ``victim`` runs (and, a service, answers /healthz 200): a kill must bite."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                assert time.monotonic() < deadline, f"{victim} did not come back within {within}s"
                if victim == "nats-server":
                    assert self.stack.nats is not None
                    if self.stack.nats.process.poll() is None:
                        return
                else:
                    sp = self.stack.procs[victim]
                    try:
                        if sp.alive() and (await http.get(f"{sp.url}/healthz")).status_code == 200:
                            return
                    except httpx.HTTPError:
                        pass
                await asyncio.sleep(0.1)  # polling a restarting process, bounded by the deadline

    async def run(self, finished: asyncio.Event, began: float) -> None:
        for victim in self.plan():
            await self.up(victim)
            try:  # a random moment; stop early if the campaign is over
                await asyncio.wait_for(finished.wait(), self.rng.uniform(*GAP_S))
                return
            except TimeoutError:
                pass
            if victim == "nats-server":
                await asyncio.to_thread(self.stack.kill_nats)
            else:
                await asyncio.to_thread(self.stack.kill, victim)
            self.done.append((round(time.monotonic() - began, 1), victim))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[DevStack]:
    dev = DevStack(
        data_dir=tmp_path / "stack", nats_port=-1, http_port=free_port(), sync_always=True, hub="hn"
    )
    dev.start(timeout=120)
    try:
        yield dev
    finally:
        dev.stop()


async def test_ground_truth_is_exact_through_random_kills(stack: DevStack) -> None:
    """Given a supervised stack, when a campaign runs while each service is SIGKILLed several
    times at random moments and the nats-server once, then every figure equals the plan."""
    chaos = Chaos(stack, random.Random(SEED))
    finished = asyncio.Event()
    began = time.monotonic()
    killer = asyncio.create_task(chaos.run(finished, began))
    try:
        report = await run_scenario(
            stack.nats_url,
            stack.procs["reporting"].url,
            "campaign",
            scale=SCALE,
            seed=SEED % 1000,
            concurrency=16,
            show_progress=False,
            request_timeout=2.0,
        )
    finally:
        finished.set()
        await killer
    took = time.monotonic() - began
    kills = Counter(victim for _, victim in chaos.done)
    restarts = {name: stack.supervisor.state(name).restarts for name in kills} if stack.supervisor else {}
    bad = [(r.figure, r.expected, r.reported) for r in report.rows if not r.ok]
    t = report.tally
    print(  # the figures the issue asks for (pytest -s shows them)
        f"\nchaos seed={SEED} scale={SCALE}: {len(chaos.done)} kills {dict(kills)} at {chaos.done}; "
        f"restarts {restarts}; {t.sent} requests sent, {t.accepted} accepted ({t.duplicates} duplicates), "
        f"{t.timeouts} timeouts resent, {t.transient_retries} transient retries; "
        f"{len(report.rows)} figures, {len(bad)} wrong; {took:.0f} s"
    )
    assert not bad, (bad, t.unexpected_samples[:10])
    assert kills == {**dict.fromkeys(stack.services, KILLS_EACH), "nats-server": 1}, (
        f"the campaign ended before every kill: {chaos.done}"
    )
    # the supervisor brought back each one after every kill; a service may also die by itself while
    # the nats-server is down (it cannot start without it) and be brought back again: that is more
    # restarts than kills, never fewer
    assert all(restarts[name] >= n for name, n in kills.items()), (restarts, dict(kills))
