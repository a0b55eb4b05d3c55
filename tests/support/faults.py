"""Fault injection at the client boundary, against a real server."""

from __future__ import annotations

from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext


class LosingAcks:
    """A NATS client whose next ``drop`` requests reach the server but lose their reply: sent
    with ``request``, or published with a reply subject (the event store's appends), whose reply
    is then sent to an inbox nobody reads."""

    def __init__(self, nc: Client, drop: int = 1) -> None:
        self._nc = nc
        self.drop = drop
        self.dropped = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._nc, name)

    def jetstream(self, **opts: Any) -> JetStreamContext:
        return JetStreamContext(self, **opts)  # type: ignore[arg-type]  # duck-typed client

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        reply = await self._nc.request(*args, **kwargs)
        subject = args[0] if args else kwargs.get("subject", "")
        if self.drop > 0 and not str(subject).startswith("$JS.API"):
            self.drop -= 1
            self.dropped += 1
            raise nats.errors.TimeoutError
        return reply

    async def publish(self, subject: str, payload: bytes = b"", reply: str = "", **kwargs: Any) -> None:
        if reply and self.drop > 0 and not subject.startswith("$JS.API"):
            self.drop -= 1
            self.dropped += 1
            reply = self._nc.new_inbox()  # the server answers there: the ack is lost
        await self._nc.publish(subject, payload, reply=reply, **kwargs)
