"""Pull requests for a durable consumer that tell a delivered message from a status by its reply.

nats-py's ``fetch`` takes any message with a ``Status`` header for a JetStream status: an outside
system that publishes a fact with such a header (``Status: 0``) makes ``fetch`` raise on it every
time it is redelivered, and one with ``Status: 404`` is silently dropped and never acknowledged;
either way ingest stops for good (found by the ingest property test). Here a delivered message is
one with a ``$JS.ACK.`` reply subject, whatever its headers, and a status is one without.

One request at a time, ``no_wait`` with ``expires``: the server sends what is there at once, or
waits up to ``expires`` for the first message, then ends the request with a status. Each request
has an inbox token of its own, so a late status of an earlier one cannot end a later one; a late
delivery is kept and handed out first (the consumer's ``max_ack_pending`` keeps them in order).
It uses the context's client and API prefix, which nats-py keeps private (allowed in ``shared/``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

_ENDS = {"404", "408", "409"}  # no messages, request expired, conflict (e.g. max waiting): retry


class PullError(RuntimeError):
    """The server ended a pull request with an error status (e.g. the consumer was deleted)."""


class Puller:
    """``fetch`` returns up to ``batch`` delivered messages of ``durable``, in stream order."""

    def __init__(self, js: JetStreamContext, *, stream: str, durable: str) -> None:
        self._nc: Client = js._nc  # nats-py has no public accessor for the context's client
        prefix = getattr(js, "_prefix", "$JS.API")  # nats-py keeps the API prefix (domain) here
        self._next = f"{prefix}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = ""
        self._token = 0
        self._want = 0
        self._buffer: list[Msg] = []
        self._done = asyncio.Event()
        self._error: str | None = None
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_msg)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _on_msg(self, msg: Msg) -> None:
        if msg.reply and msg.reply.startswith("$JS.ACK."):
            self._buffer.append(msg)
            if len(self._buffer) >= self._want:
                self._done.set()
            return
        if not msg.subject.endswith(f".{self._token}"):
            return  # a status of an earlier request: it is over already
        headers = msg.headers or {}
        status = headers.get("Status", "")
        if status == "100":  # idle heartbeat or flow control
            return
        description = str(headers.get("Description", ""))
        if status not in _ENDS or "deleted" in description.lower():
            self._error = f"{status} {description}".strip()
        self._done.set()

    async def fetch(self, batch: int, within: float) -> list[Msg]:
        """What the consumer delivers within ``within`` seconds (up to ``batch``; may be empty)."""
        if not self._buffer:
            self._token += 1
            self._want = batch
            self._done.clear()
            request = {"batch": batch, "no_wait": True, "expires": int(within * 1e9)}
            await self._nc.publish(
                self._next, json.dumps(request).encode(), reply=f"{self._inbox}.{self._token}"
            )
            with contextlib.suppress(TimeoutError):  # the server ends it by then; a lost one too
                await asyncio.wait_for(self._done.wait(), within + 1.0)
        if self._error is not None:
            error, self._error = self._error, None
            raise PullError(error)
        out, self._buffer = self._buffer[:batch], self._buffer[batch:]
        return out
