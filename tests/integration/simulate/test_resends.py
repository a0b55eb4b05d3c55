"""The simulator resends a command that has no answer yet, with the same command id, until it is
answered: an answer later than the request timeout still counts, and a service that is away for
longer than any refusal deadline is waited for (the chaos defect: rotations sent while dispatch
was being SIGKILLed on a loaded CI machine came back "timeout: no answer", figures short).

A real nats-server; the "service" is a plain responder, so a test can make it slow or absent.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from tests.support.waiting import eventually
from vhub.simulate.driver import Driver
from vhub.simulate.model import Phase, Plan, Step, Truth
from vhub.simulate.progress import PhaseProgress

TIMEOUT = 0.3  # the driver's wait for one attempt's answer


@pytest.fixture
async def client(nats_url: str) -> AsyncIterator[Client]:
    nc = await nats.connect(nats_url)
    yield nc
    await nc.drain()


def plan_of(subject_name: str, n: int) -> tuple[Plan, list[Step]]:
    steps = [Step("chaos", subject_name, {"n": i}, f"cmd-{i}") for i in range(n)]
    phase = Phase("only", len(steps), lambda: iter(steps))
    return Plan("test", 1.0, 0, (phase,), Truth()), steps


class Service:
    """Answers every attempt, after ``delay`` seconds, and notes the command ids it was sent."""

    def __init__(self, nc: Client, subject: str, delay: float) -> None:
        self.nc, self.subject, self.delay = nc, subject, delay
        self.seen: Counter[str] = Counter()
        self._replies: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.nc.subscribe(self.subject, cb=self._answer)
        await self.nc.flush()

    async def _answer(self, msg: Msg) -> None:
        body = json.loads(msg.data)
        self.seen[body["command_id"]] += 1
        asyncio.get_running_loop().call_later(self.delay, self._reply, msg, body["command_id"])

    def _reply(self, msg: Msg, command_id: str) -> None:
        if self.nc.is_closed:  # a late answer after the test ended
            return
        reply = {"accepted": True, "aggregate_id": command_id, "version": 1}
        task = asyncio.ensure_future(self.nc.publish(msg.reply, json.dumps(reply).encode()))
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)


def subject_name() -> str:
    return "resend_" + uuid.uuid4().hex[:10]


def accepted_all(driver: Driver, steps: list[Step]) -> Iterator[str]:
    """The surprises: every step was planned to be accepted."""
    yield from driver.tally.unexpected_samples
    if driver.tally.accepted != len(steps):
        yield f"{driver.tally.accepted} of {len(steps)} accepted, refused {dict(driver.tally.refused)}"


async def test_an_answer_later_than_the_timeout_counts(client: Client, nats_url: str) -> None:
    """Given a service that answers every attempt but only after twice the request timeout, when
    the driver sends commands, then each is accepted (a late answer to an earlier attempt counts),
    every attempt carried the command's own id, and none is given up."""
    name = subject_name()
    responder = await nats.connect(nats_url)
    try:
        service = Service(responder, f"vhub.cmd.chaos.{name}", delay=2 * TIMEOUT)
        await service.start()
        plan, steps = plan_of(name, 8)
        driver = Driver(client, concurrency=8, request_timeout=TIMEOUT, transient_deadline=1.0)
        await driver.run(plan, PhaseProgress(False))
        assert not list(accepted_all(driver, steps))
        assert set(service.seen) == {s.command_id for s in steps}
        assert driver.tally.timeouts >= len(steps)  # each waited past one timeout, and resent
    finally:
        await responder.drain()


async def test_a_service_away_longer_than_every_deadline_is_waited_for(client: Client, nats_url: str) -> None:
    """Given no service on the subject for longer than the driver's refusal deadline (a restart on a
    loaded machine), when it subscribes at last, then every command is accepted, not given up."""
    name = subject_name()
    plan, steps = plan_of(name, 4)
    driver = Driver(client, concurrency=4, request_timeout=TIMEOUT, transient_deadline=0.5)
    sending = asyncio.create_task(driver.run(plan, PhaseProgress(False)))
    responder = await nats.connect(nats_url)
    try:
        began = asyncio.get_running_loop().time()
        await eventually(
            lambda: (
                driver.tally.timeouts >= 4 * len(steps)
                and asyncio.get_running_loop().time() - began > 4 * 0.5
            ),
            "resends while the service is away, for four times the refusal deadline",
        )
        assert not sending.done(), "the driver gave up while the service was away"
        service = Service(responder, f"vhub.cmd.chaos.{name}", delay=0.0)
        await service.start()
        await asyncio.wait_for(sending, 30)
        assert not list(accepted_all(driver, steps))
        assert set(service.seen) == {s.command_id for s in steps}
    finally:
        sending.cancel()
        await responder.drain()
