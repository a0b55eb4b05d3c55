"""PositionWatch: a commit that lands while a reader checks the position is not missed."""

from __future__ import annotations

import asyncio
import time

from services.reporting.consumer import PositionWatch


async def test_a_move_between_mark_and_wait_returns_at_once() -> None:
    watch = PositionWatch()
    seen: list[int] = []
    watch.listeners.append(seen.append)
    mark = watch.mark()  # a reader about to query the position…
    watch.moved(42)  # …and a commit landing meanwhile
    started = time.monotonic()
    await watch.wait(30, since=mark)
    assert time.monotonic() - started < 5  # returned on the move, far from the 30 s bound
    assert seen == [42]


async def test_wait_without_a_move_returns_after_its_bound() -> None:
    """Writers in other processes do not wake us: the wait is bounded, and the caller reads the
    position again."""
    watch = PositionWatch()
    mark = watch.mark()
    await asyncio.wait_for(watch.wait(0.01, since=mark), 5)
    watch.moved(1)
    watch.moved(2)
    assert watch.mark() is not mark
