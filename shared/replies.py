"""Many requests in flight on one inbox subscription, with one timer for all their deadlines.

Why not ``nc.request``: per request it builds a future with a done-callback, draws a random token
(a ``getrandom`` system call), and ``asyncio.wait_for`` adds a second future and a timer that is
armed and cancelled, on the event store's append path, once per event appended. Here a request
is a counter token, one future, and an entry in a dict; the replies arrive on one wildcard
subscription under the connection's own inbox prefix (so per-user inbox permissions hold).

Every request of one :class:`Replies` has the same timeout, so the dict's insertion order is
deadline order: one timer, armed at the oldest waiting request's deadline, fails what is overdue
with ``nats.errors.TimeoutError`` and re-arms at the next, about once per timeout period under
load. A reply lost with a dropped link is such a timeout; the subscription itself is replayed by
nats-py on reconnect, like every other subscription of the connection.
"""

from __future__ import annotations

import asyncio
import itertools

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

STATUS = "Status"  # where nats-py puts a status line's code (nats.js.api.Header.STATUS)
NO_RESPONDERS = "503"  # the status the server answers with when nothing listens on the subject


class Replies:
    """Request/reply over one wildcard inbox subscription (made on the first request)."""

    def __init__(self, nc: Client, *, timeout: float) -> None:
        self._nc = nc
        self.timeout = timeout
        # overdue requests fail up to this much late: one wake-up serves every one that is due
        self._slack = min(0.05, timeout / 10)
        self._prefix = ""
        self._sub: Subscription | None = None
        self._starting = asyncio.Lock()
        self._tokens = itertools.count(1)
        self._waiting: dict[str, tuple[asyncio.Future[Msg], float]] = {}
        self._timer: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> int:
        """Requests sent and not yet answered, failed or given up."""
        return len(self._waiting)

    async def request(self, subject: str, payload: bytes, headers: dict[str, str]) -> Msg:
        """Publish with a reply subject of ours and wait for the reply.

        Raises ``nats.errors.TimeoutError`` after ``timeout`` seconds without one, and
        ``nats.errors.NoRespondersError`` when nothing listens on ``subject``.
        """
        if self._sub is None:
            await self._start()
        loop = asyncio.get_running_loop()
        token = str(next(self._tokens))
        reply: asyncio.Future[Msg] = loop.create_future()
        deadline = loop.time() + self.timeout
        self._waiting[token] = (reply, deadline)
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._expire)
        try:
            await self._nc.publish(subject, payload, reply=self._prefix + token, headers=headers)
            msg = await reply
        finally:  # answered: already gone; failed to publish, or cancelled: gone now
            self._waiting.pop(token, None)
        if msg.headers and msg.headers.get(STATUS) == NO_RESPONDERS:
            raise nats.errors.NoRespondersError
        return msg

    async def _start(self) -> None:
        async with self._starting:
            if self._sub is None:
                inbox = self._nc.new_inbox()
                self._prefix = inbox + "."
                self._sub = await self._nc.subscribe(inbox + ".*", cb=self._on_reply)

    async def _on_reply(self, msg: Msg) -> None:
        entry = self._waiting.pop(msg.subject[len(self._prefix) :], None)
        if entry is not None and not entry[0].done():  # late replies to expired requests drop here
            entry[0].set_result(msg)

    def _expire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        overdue: list[str] = []
        next_deadline = None
        for token, (_, deadline) in self._waiting.items():
            if deadline > now:
                next_deadline = deadline
                break
            overdue.append(token)
        for token in overdue:
            reply, _ = self._waiting.pop(token)
            if not reply.done():
                reply.set_exception(nats.errors.TimeoutError())
        if next_deadline is not None:
            self._timer = loop.call_at(max(next_deadline, now + self._slack), self._expire)
