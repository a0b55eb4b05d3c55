"""Commands sent until they are answered: every resend carries the same command id, and every
attempt of one command shares one reply subject.

Why one reply subject per command and not nats-py's ``request`` per attempt: ``request`` waits for
its own attempt's reply only and drops one that comes after its timeout. When a service answers
more slowly than the timeout (restarting, replaying its projection, on a loaded machine), every
attempt then times out although every one is answered, and the resends queue up behind each
other. Here the first answer to any attempt ends the command, and a timeout is never an answer:
the command is resent (the services make a resend with the same command id harmless) until it is
answered or ``answer_deadline`` passes. The retry policy (exponential back-off with jitter, the
deadlines) is tenacity's.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.nuid import NUID
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

STATUS, NO_RESPONDERS = "Status", "503"  # the server's reply when nobody subscribes to the subject


class NoAnswerError(Exception):
    """No answer yet (a timeout, or no service subscribed while it restarts): send again."""


class TransientRefusalError(Exception):
    """An answer that says "not yet" (see ``Resender.ask``): send again after a back-off."""

    def __init__(self, reply: dict[str, Any]) -> None:
        super().__init__(reply.get("code"))
        self.reply = reply


class Counts(Protocol):
    sent: int  # attempts published
    timeouts: int  # attempts that timed out or found no service subscribed


class Resender:
    """One wildcard reply subscription (``<inbox>.<token>``) for all of a driver's commands."""

    def __init__(
        self,
        nc: Client,
        counts: Counts,
        *,
        answer_deadline: float = 600.0,
        transient_deadline: float = 60.0,
        backoff_max: float = 1.0,
    ) -> None:
        self._nc = nc
        self._answer_deadline = answer_deadline
        self._transient_deadline = transient_deadline
        self._backoff_max = backoff_max
        self._prefix = nc.new_inbox()
        self._nuid = NUID()
        self._waiting: dict[str, asyncio.Future[Msg]] = {}
        self._sub: Subscription | None = None
        self.counts = counts

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(f"{self._prefix}.*", cb=self._on_reply)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _on_reply(self, msg: Msg) -> None:
        waiter = self._waiting.get(msg.subject.rsplit(".", 1)[-1])
        if waiter is not None and not waiter.done():  # a later answer to an earlier attempt: dropped
            waiter.set_result(msg)

    async def ask(
        self,
        subject: str,
        body: bytes,
        *,
        wait_s: float,
        transient: Callable[[dict[str, Any]], bool] = lambda _: False,
    ) -> dict[str, Any]:
        """The command's answer. Each attempt waits ``wait_s`` seconds for an answer to any attempt; an
        answer for which ``transient`` is true is sent again until ``transient_deadline``, then
        returned as it is. With no answer by ``answer_deadline``: a ``timeout`` refusal."""
        token = self._nuid.next().decode()
        reply_to = f"{self._prefix}.{token}"
        self._waiting[token] = asyncio.get_running_loop().create_future()
        began = time.monotonic()

        def again(err: BaseException) -> bool:
            if isinstance(err, TransientRefusalError):
                return time.monotonic() - began < self._transient_deadline
            return isinstance(err, NoAnswerError)

        retrying = AsyncRetrying(
            retry=retry_if_exception(again),
            stop=stop_after_delay(self._answer_deadline),
            wait=wait_exponential_jitter(multiplier=0.05, max=self._backoff_max, jitter=0.05),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if not self._waiting[token].done():  # an answer may have come in the back-off
                        self.counts.sent += 1
                        await self._nc.publish(subject, body, reply=reply_to)
                    reply = await self._answer(token, wait_s)
                    if transient(reply):
                        raise TransientRefusalError(reply)
                    return reply
        except TransientRefusalError as err:
            return err.reply
        except NoAnswerError:
            return {
                "accepted": False,
                "code": "timeout",
                "reason": f"no answer in {self._answer_deadline:.0f} s",
            }
        finally:
            self._waiting.pop(token, None)
        raise AssertionError("unreachable: tenacity returns or raises")

    async def _answer(self, token: str, wait_s: float) -> dict[str, Any]:
        """The next answer to any attempt of ``token``'s command, within ``wait_s`` seconds."""
        waiter = self._waiting[token]
        try:  # shielded: a timeout leaves the future waiting for the next attempt
            msg = await asyncio.wait_for(asyncio.shield(waiter), wait_s)
        except TimeoutError:
            self.counts.timeouts += 1
            raise NoAnswerError(token) from None
        self._waiting[token] = asyncio.get_running_loop().create_future()  # consumed
        if not msg.data and (msg.headers or {}).get(STATUS) == NO_RESPONDERS:
            self.counts.timeouts += 1
            raise NoAnswerError(token)  # nobody subscribed: the service is (re)starting
        reply: dict[str, Any] = json.loads(msg.data)
        return reply
