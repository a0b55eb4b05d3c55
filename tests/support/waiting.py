"""Waiting on a condition with a deadline, never on the clock alone; and free loopback ports.

Every test that waits for something asynchronous (a projection catching up, a process coming back)
polls a condition here, so a slow machine makes a test slower, not wrong, and a broken one fails
with what it was waiting for.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

from shared.natsserver import free_port

__all__ = ["eventually", "free_port", "wait_until"]

Condition = Callable[[], Awaitable[bool]] | Callable[[], bool]


async def eventually(
    condition: Condition,
    what: str | Callable[[], str],
    within: float = 30.0,
    interval: float = 0.02,
) -> None:
    """Poll ``condition`` (sync or async) until it holds; fail after ``within`` seconds saying ``what``
    (a callable ``what`` is asked only on failure, e.g. to add what the server logged meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if loop.time() >= deadline:
            said = what if isinstance(what, str) else what()
            raise AssertionError(f"{said}: not within {within}s")
        await asyncio.sleep(interval)  # polling a condition, bounded by the deadline


def wait_until(
    predicate: Callable[[], bool], what: str, within: float = 30.0, interval: float = 0.05
) -> None:
    """The blocking form of :func:`eventually`, for tests that drive processes without a loop."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within}s")
        time.sleep(interval)  # polling a condition, bounded by the deadline
