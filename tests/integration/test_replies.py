"""Requests on one inbox subscription (shared/replies.py) against a real nats-server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from shared.replies import Replies
from tests.support.linkcut import LinkCut
from tests.support.waiting import eventually


class Responder:
    """A service on its own connection that answers with the request's payload, or holds them."""

    def __init__(self, nc: Client, subject: str, *, hold: bool = False) -> None:
        self.nc = nc
        self.subject = subject
        self.hold = hold
        self.held: list[Msg] = []

    async def start(self) -> None:
        await self.nc.subscribe(self.subject, cb=self._on)
        await self.nc.flush()

    async def _on(self, msg: Msg) -> None:
        if self.hold:
            self.held.append(msg)
        else:
            await msg.respond(msg.data)


@pytest.fixture
async def link(nats_url: str) -> AsyncIterator[LinkCut]:
    port = urlparse(nats_url).port
    assert port is not None
    relay = LinkCut(port)
    await relay.start()
    yield relay
    await relay.cut()


def subject() -> str:
    return f"t.replies.{uuid.uuid4().hex}"


async def test_concurrent_requests_get_their_own_replies(nc: Client) -> None:
    """Many requests in flight on one subscription: each gets the reply to its own payload."""
    service = Responder(nc, subject())
    await service.start()
    replies = Replies(nc, timeout=5.0)
    answers = await asyncio.gather(*(replies.request(service.subject, b"%d" % i, {}) for i in range(200)))
    assert [a.data for a in answers] == [b"%d" % i for i in range(200)]
    assert replies.waiting == 0


async def test_an_unanswered_request_times_out(nc: Client) -> None:
    """A request nobody answers fails with the NATS timeout after the timeout, and is forgotten."""
    service = Responder(nc, subject(), hold=True)
    await service.start()
    replies = Replies(nc, timeout=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(nats.errors.TimeoutError):
        await replies.request(service.subject, b"x", {})
    assert 0.3 <= loop.time() - started < 2.0
    assert len(service.held) == 1
    assert replies.waiting == 0
    await service.held[0].respond(b"late")  # a reply after the deadline is dropped, not delivered
    service.hold = False
    assert (await replies.request(service.subject, b"next", {})).data == b"next"


async def test_requests_to_a_subject_without_listeners_have_no_responders(nc: Client) -> None:
    """Nothing subscribes to the subject: the server's no-responders status is raised as such."""
    replies = Replies(nc, timeout=5.0)
    with pytest.raises(nats.errors.NoRespondersError):
        await replies.request(subject(), b"x", {"Vhub-Test": "1"})
    assert replies.waiting == 0


async def test_a_reply_lost_with_the_link_times_out_and_the_subscription_survives(
    nc: Client, link: LinkCut
) -> None:
    """The link drops while a request waits: that request times out; after the reconnect, new
    requests are answered on the same subscription."""
    client = await nats.connect(
        f"nats://127.0.0.1:{link.port}", max_reconnect_attempts=-1, reconnect_time_wait=0.1
    )
    try:
        service = Responder(nc, subject(), hold=True)
        await service.start()
        replies = Replies(client, timeout=3.0)
        pending = asyncio.ensure_future(replies.request(service.subject, b"lost", {}))
        await eventually(
            lambda: len(service.held) == 1,
            lambda: (
                f"the request reached the service (request done: {pending.done()}, "
                f"failed: {pending.exception() if pending.done() else None!r}, "
                f"client connected: {client.is_connected}, reconnects: {client.stats['reconnects']})"
            ),
        )
        await link.cut()
        await eventually(lambda: not client.is_connected, "the client saw the link drop")
        await service.held[0].respond(b"lost")  # the server has nobody to deliver it to
        await link.heal()
        with pytest.raises(nats.errors.TimeoutError):
            await pending
        await eventually(lambda: client.is_connected, "the client reconnected")
        service.hold = False
        assert (await replies.request(service.subject, b"after", {})).data == b"after"
        assert replies.waiting == 0
    finally:
        await client.close()
