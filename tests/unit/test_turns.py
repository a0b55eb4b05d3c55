"""Writers of one subject in one process take turns (shared/transaction.py:Turns)."""

from __future__ import annotations

import asyncio

from shared.transaction import Turns


async def test_a_writer_cancelled_while_waiting_leaves_the_holder_its_turn() -> None:
    """A waiter cancelled before its turn releases nothing: the next writer still waits for the holder."""
    turns = Turns()
    holding, leave = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def holder() -> None:
        async with turns.hold(["s"]):
            holding.set()
            await leave.wait()
            order.append("holder left")

    async def writer(name: str) -> None:
        async with turns.hold(["s"]):
            order.append(name)

    first = asyncio.create_task(holder())
    await holding.wait()
    cancelled = asyncio.create_task(writer("cancelled"))
    await asyncio.sleep(0)  # it is now waiting for the lock
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    later = asyncio.create_task(writer("later"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert order == []  # the holder still has its turn
    leave.set()
    await asyncio.gather(first, later)
    assert order == ["holder left", "later"]
    assert turns._locks == {}  # nobody holds or waits: nothing is kept


async def test_turns_on_several_subjects_are_taken_in_one_order() -> None:
    """Two writers asking for the same subjects in opposite orders both finish (no deadlock)."""
    turns = Turns()
    done: list[int] = []

    async def writer(k: int, subjects: list[str]) -> None:
        for _ in range(50):
            async with turns.hold(subjects):
                await asyncio.sleep(0)
        done.append(k)

    await asyncio.wait_for(asyncio.gather(writer(1, ["a", "b"]), writer(2, ["b", "a"])), 10)
    assert sorted(done) == [1, 2]
    assert turns._locks == {}
