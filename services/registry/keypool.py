"""Data keys made ahead (issue 14): a registration takes a key that is already durable in the key
bucket instead of writing one and waiting for its fsync before its own append.

Each registry replica keeps up to ``size`` fresh keys, each written to the bucket in a bundle
(``k-<random>.<slot>``, never a volunteer id: services/registry/keybundles.py) with
``update(last=0)`` before it is offered: so the key is durable before any event sealed with it is
appended, as before, but its write is off the registration's path, and one stored (fsync'd)
message carries up to a bundle's worth of keys. The pool is
refilled in the background by one task per replica; registrations that find it dry share one
bundle made on the spot (one write, as before issue 14). The registration's event names the key
(``sealed.key_id``), the volunteer's state keeps it, erasure deletes it from its bundle.

A key is used at most once. A key handed to a registration that then sealed nothing (a resend
answered from the log, a refusal) goes back to the pool; one that sealed an event is never
offered again, even when its append failed (it may have landed: a lost ack). Keys nobody used
(a replica that stopped or crashed with keys ready, a failed append) stay in the bucket: random
keys that name no one and open nothing, at most ``size`` plus one batch per replica start, about
100 bytes each (in their bundles). They are not collected: telling an unused key from a used
one would mean reading the whole log, and keeping them costs less than that.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

import structlog

from services.registry.keystore import KeyStore, ReadyKey

log = structlog.get_logger(__name__)
FIRST_FILL = 32  # what a replica makes at start; the pool grows to ``size`` as it is drawn on


class KeyPool:
    """``size`` ready keys at most, refilled up to ``batch`` keys a round (in bundles)."""

    def __init__(self, keys: KeyStore, *, size: int, batch: int = 128) -> None:
        self._keys = keys
        self._size = size
        self._batch = max(1, batch)
        self._target = min(size, FIRST_FILL)
        self._ready: deque[ReadyKey] = deque()
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._making: asyncio.Task[None] | None = None  # a bundle made for a dry pool

    def __len__(self) -> int:
        return len(self._ready)

    async def take(self) -> ReadyKey:
        """A fresh key, durable in the bucket; made now when none is ready."""
        if self._ready:
            ready = self._ready.popleft()
            if len(self._ready) < self._target // 2:
                self._wanted.set()
        elif self._task is None:  # no refill: one key on the spot (one write, as before issue 14)
            [ready] = await self._keys.make(1)
        else:  # drawn faster than it refills: keep more ready, and make a bundle now
            self._target = min(self._size, max(self._target * 2, 1))
            self._wanted.set()
            ready = await self._bundle_now()
        self._keys.remember(ready)
        return ready

    async def _bundle_now(self) -> ReadyKey:
        """A key from a bundle made now, one write shared by every registration that found the
        pool dry meanwhile, rather than one fsync'd message each."""
        while not self._ready:
            if self._making is None or self._making.done():
                self._making = asyncio.create_task(self._make_into_pool(self._keys.bundle_size))
            await asyncio.shield(self._making)
        return self._ready.popleft()

    async def _make_into_pool(self, n: int) -> None:
        self._ready.extend(await self._keys.make(n))

    def give_back(self, ready: ReadyKey) -> None:
        """A key that sealed nothing: it can still serve another registration."""
        if len(self._ready) < self._size:
            self._ready.appendleft(ready)

    def start(self) -> None:
        if self._size > 0 and self._task is None:
            self._wanted.set()
            self._task = asyncio.create_task(self._fill())

    async def stop(self) -> None:
        for task in (self._making, self._task):
            if task is not None:
                task.cancel()
                # its failure was its waiters' (a registration's), not the stop's
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._making = self._task = None

    async def _fill(self) -> None:
        failures = 0
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            while len(self._ready) < self._target:
                try:
                    made = await self._keys.make(min(self._batch, self._target - len(self._ready)))
                except Exception as err:  # the bucket is unreachable: registrations make their own
                    failures += 1
                    log.warning("key_pool_refill_failed", error=str(err), failures=failures)
                    await asyncio.sleep(min(0.1 * 2**failures, 5.0))  # back off, then try again
                    continue
                failures = 0
                self._ready.extend(made)
