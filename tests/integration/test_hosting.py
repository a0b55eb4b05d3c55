"""The one hosting path: an app whose start fails partway is stopped before the failure surfaces."""

from __future__ import annotations

import pytest
from nats.aio.client import Client

from shared.hosting import hosted
from shared.settings import Settings


class HalfStarted:
    """Starts one subscription, then fails: what ``stop()`` must undo."""

    def __init__(self, nc: Client, settings: Settings) -> None:
        self.nc = nc
        self.subscribed = False
        self.stopped = False

    async def start(self) -> None:
        self.sub = await self.nc.subscribe(f"vhub.test.hosting.{id(self)}")
        self.subscribed = True
        raise RuntimeError("consumer could not be created")

    async def stop(self) -> None:
        if self.subscribed:
            await self.sub.unsubscribe()
        self.stopped = True


class StopFailsToo(HalfStarted):
    async def stop(self) -> None:
        raise OSError("port already closed")


async def test_a_failed_start_is_stopped_and_its_error_raised(settings: Settings) -> None:
    """Given an app whose start() fails after subscribing, when hosted, then its stop() ran (the
    subscription is gone) and the start error is the one the caller sees."""
    built: list[HalfStarted] = []

    def build(nc: Client, s: Settings) -> HalfStarted:
        built.append(HalfStarted(nc, s))
        return built[0]

    with pytest.raises(RuntimeError, match="consumer could not be created"):
        async with hosted(settings, "test", build):
            pytest.fail("a failed start must not reach the body")
    assert built[0].stopped


async def test_a_stop_failing_after_a_failed_start_keeps_the_start_error(settings: Settings) -> None:
    """Given an app whose start() and stop() both fail, then the caller sees the start error."""
    with pytest.raises(RuntimeError, match="consumer could not be created"):
        async with hosted(settings, "test", StopFailsToo):
            pytest.fail("a failed start must not reach the body")
