"""A lean, pipelined reader of a whole stream for rebuilds: an ephemeral consumer without acks.

nats-py's ``fetch`` sends one pull request and then awaits each message through ``wait_for`` (a
task and a timer per message), so the server idles while the client folds a batch, and the client
spends about as much per message on waiting as on parsing. Here the consumer's messages land in a
plain list straight from the client's read loop (the subscription's queue is replaced by a hand-off:
an ``asyncio.Queue`` put, its task's get and a callback coroutine per message cost about a sixth of
a rebuild's event-loop time), and ``depth`` pull requests stay outstanding: the server sends batch
N+1 while batch N is decoded and written.

Only for readers that need no acks and start again from scratch on failure (a rebuild). A named
reader the operator provisioned (``reporting_rebuild``, shared/provisioned.py: no service may make
one, since a create request may name any deliver subject) is reset to sequence 1 at start and left
in place at the end; without one (no accounts file) the reader makes its own and deletes it after.
With no acks, a delivery that never reaches us (answers lost on a reconnect; a reset does not
cancel another live reader's pull requests: checked on 2.15.1) would be a hole in the rebuild, so
each batch must follow on from the last in consumer sequence (:class:`shared.delivery.Continuity`)
or the read fails.

It publishes the pull requests itself, so it needs the context's client and API prefix, which
nats-py keeps private: this module is where that is allowed (nothing outside ``shared/`` touches
nats-py internals).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from nats.js.errors import NotFoundError

from shared.consumer import PROVISIONED
from shared.delivery import Continuity, pending_after
from shared.provisioned import reader_config

log = structlog.get_logger(__name__)
QUIET_WITHIN_S = 30.0  # how long an earlier reader's pull requests may keep a provisioned reader waiting


class PullError(RuntimeError):
    """The server ended a pull request with an error status (e.g. the consumer was deleted)."""


class _HandOff(asyncio.Queue[Msg]):
    """A subscription's pending queue that hands each message to ``receive`` as the client's read
    loop delivers it: nothing is ever queued, so draining or unsubscribing finds it empty."""

    def __init__(self, receive: Callable[[Msg], None]) -> None:
        super().__init__()
        self._receive = receive

    def put_nowait(self, item: Msg) -> None:
        self._receive(item)


class StreamReader:
    """``take`` returns the messages delivered since the last call, in stream order."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        filter_subject: str,
        batch: int = 1_000,
        depth: int = 2,
        expires_s: float = 5.0,
        name: str | None = None,
    ) -> None:
        self._nc: Client = js._nc  # nats-py has no public accessor for the context's client
        self._js = js
        self.stream = stream
        self._filter = filter_subject
        self._batch = batch
        self._depth = depth
        self._request = json.dumps({"batch": batch, "expires": int(expires_s * 1e9)}).encode()
        self._expires_s = expires_s
        self._heard = 0.0  # loop time by which the last message or status had come
        self._news = False  # something came since ``_heard`` was set (no clock read per message)
        self._open: deque[int] = deque()  # messages still due on each outstanding request, oldest first
        self._buffer: list[Msg] = []
        self._ready = asyncio.Event()
        self._error: str | None = None
        self._sub: Subscription | None = None
        self.consumer = ""
        # a named reader (what a permission can list, vhub/natsaccounts.py) or a server-named one
        self._name = name
        self._provisioned = False  # the operator's: reset at start, never deleted
        self._line = Continuity()
        self._next = ""
        self._inbox = ""

    async def start(self) -> None:
        if self._name:
            await self._bind_named(self._name)
        else:
            info = await self._js.add_consumer(
                self.stream, reader_config(None, self._filter, depth=self._depth)
            )
            self.consumer = info.name
        self._line.bind()  # created or reset: the first delivery is consumer sequence 1
        prefix = getattr(self._js, "_prefix", "$JS.API")  # nats-py keeps the API prefix (domain) here
        self._next = f"{prefix}.CONSUMER.MSG.NEXT.{self.stream}.{self.consumer}"
        self._inbox = self._nc.new_inbox()
        # no callback (no task waiting on the queue) and no byte limit (nothing is ever pending)
        self._sub = await self._nc.subscribe(self._inbox, pending_bytes_limit=0)
        self._sub._pending_queue = _HandOff(self._on_msg)

    async def _bind_named(self, name: str) -> None:
        """Reset the operator's consumer to sequence 1, or make our own (no accounts file)."""
        try:
            info = await self._js.consumer_info(self.stream, name)
        except NotFoundError:
            info = None
        if info is not None and PROVISIONED in (info.config.description or ""):
            filters = info.config.filter_subjects or [info.config.filter_subject or ""]
            if filters != [self._filter]:
                raise RuntimeError(f"{name}: the provisioned consumer has other filters (vhub provision)")
            await self._quiet(info)
            prefix = getattr(self._js, "_prefix", "$JS.API")
            reply = await self._nc.request(
                f"{prefix}.CONSUMER.RESET.{self.stream}.{name}", b'{"seq": 1}', timeout=5
            )
            error = json.loads(reply.data).get("error")
            if error:
                raise PullError(f"{name}: reset to 1: {error.get('description')}")
            self._provisioned = True
        else:
            if info is not None:  # a dead predecessor's own reader would hand us its position
                await self._js.delete_consumer(self.stream, name)
            await self._js.add_consumer(self.stream, reader_config(name, self._filter, depth=self._depth))
        self.consumer = name

    async def _quiet(self, info: ConsumerInfo) -> None:
        """Wait until no earlier reader's pull request is left on the consumer: a reset does not
        end them, and they would take what it hands out again (even after their reader went: the
        server keeps a request whose reply subject lost its interest while leaf links are
        configured, checked on 2.15.1). They end by their expiry."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + QUIET_WITHIN_S
        while info.num_waiting:
            if loop.time() > deadline:
                raise PullError(f"{self.consumer or info.name}: another reader still pulls from it")
            await asyncio.sleep(0.2)  # waiting for their expiry, bounded by the deadline
            info = await self._js.consumer_info(self.stream, info.name)

    async def close(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        if self.consumer and not self._provisioned:
            try:
                await self._js.delete_consumer(self.stream, self.consumer)
            except Exception as err:  # it expires on its own after inactive_threshold
                log.warning("reader_consumer_not_deleted", error=str(err))

    def _on_msg(self, msg: Msg) -> None:
        """Called from the client's read loop: an error here would end that loop, so it is kept
        and raised to the reader's caller instead."""
        try:
            self._deliver(msg)
        except Exception as err:
            self._error = f"undeliverable message: {err!r}"[:200]
            self._ready.set()

    def _deliver(self, msg: Msg) -> None:
        self._news = True
        headers = msg.headers
        status = headers.get("Status") if headers and not msg.data else None
        if status is None:
            self._buffer.append(msg)
            if self._open:
                self._open[0] -= 1
                if self._open[0] <= 0:
                    self._open.popleft()
            if len(self._buffer) >= self._batch or pending_after(msg) == 0:
                self._ready.set()
            return
        if status == "100":  # idle heartbeat
            return
        description = (headers or {}).get("Description", "")
        if status == "409" and "maxwaiting" in description.lower().replace(" ", ""):
            # our newest request was refused: the server still counted expired ones as waiting
            # (seen under load, now and then); ask again on the next take instead of failing
            if self._open:
                self._open.pop()
            return
        if self._open:  # 404 no messages, 408 request expired, 409 …: that request is over
            self._open.popleft()
        if status not in ("404", "408"):
            self._error = f"{status} {description}".strip()
        self._ready.set()

    async def _top_up(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._news:
            self._heard, self._news = now, False
        if self._open and now - self._heard > self._expires_s + 2:
            # every request ends by its expiry at the latest: silence means they were lost (a
            # reconnect drops them on the server), so ask again rather than wait forever
            log.warning("reader_requests_lost", outstanding=len(self._open))
            self._open.clear()
        if not self._open:
            self._heard = now
        while len(self._open) < self._depth:
            self._open.append(self._batch)
            await self._nc.publish(self._next, self._request, reply=self._inbox)

    def _hand_over(self, msgs: list[Msg]) -> list[Msg]:
        self._buffer = []
        self._ready.clear()
        if msgs and (why := self._line.take(msgs)) is not None:
            raise PullError(f"{self.consumer}: deliveries missed ({why}): another reader, or a lost answer")
        return msgs

    async def take(self, wait_s: float) -> list[Msg]:
        """At least a batch, or what there is once the consumer has nothing more to deliver right
        now; an empty list when nothing arrives within ``wait_s`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            if self._error is not None:
                raise PullError(self._error)
            await self._top_up()
            buffered = self._buffer
            if buffered and (len(buffered) >= self._batch or pending_after(buffered[-1]) == 0):
                return self._hand_over(buffered)
            left = deadline - loop.time()
            if left <= 0:
                return self._hand_over(buffered)
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), left)
