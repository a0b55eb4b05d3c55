"""The rebuild's stream reader against a real nats-server: order, batches, caught up, lost requests,
the operator's consumer reset at each start, and a delivery that misses the reader."""

from __future__ import annotations

import json
import time

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from shared.consumer import PROVISIONED
from shared.delivery import pending_after
from shared.provisioned import REPORTING_REBUILD
from shared.reader import PullError, StreamReader
from shared.settings import Settings
from tests.support.waiting import eventually


async def _fill(nc: Client, settings: Settings, count: int) -> None:
    js = nc.jetstream()
    for i in range(count):
        subject = f"vhub.evt.{settings.hub}.x.y.{i % 7}"
        await js.publish(subject, str(i).encode(), stream=settings.event_stream)


async def test_reads_everything_in_order_then_reports_nothing_new(nc: Client, provisioned: Settings) -> None:
    """Given 1,000 messages, reading in batches of 64 with two requests outstanding yields each
    once, in stream order, and once caught up a take returns empty within its bound."""
    await _fill(nc, provisioned, 1_000)
    reader = StreamReader(
        nc.jetstream(), stream=provisioned.event_stream, filter_subject="vhub.evt.>", batch=64, expires_s=1.0
    )
    await reader.start()
    try:
        seen: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(seen) < 1_000 and time.monotonic() < deadline:
            msgs = await reader.take(5)
            seen += [m.data for m in msgs]
        assert seen == [str(i).encode() for i in range(1_000)]
        assert pending_after(msgs[-1]) == 0
        started = time.monotonic()
        assert await reader.take(0.3) == []
        assert time.monotonic() - started < 5
        await _fill(nc, provisioned, 3)  # new messages reach the requests still outstanding
        later: list[bytes] = []  # a take returns what has arrived: the three may come in parts
        deadline = time.monotonic() + 10
        while len(later) < 3 and time.monotonic() < deadline:
            later += [m.data for m in await reader.take(5)]
        assert later == [b"0", b"1", b"2"]
    finally:
        await reader.close()


async def test_requests_lost_without_an_answer_are_asked_again(nc: Client, provisioned: Settings) -> None:
    """A request the server forgot (a reconnect drops them) never ends with a status; after its
    expiry has surely passed the reader asks again instead of waiting forever."""
    reader = StreamReader(
        nc.jetstream(), stream=provisioned.event_stream, filter_subject="vhub.evt.>", batch=10, expires_s=0.2
    )
    await reader.start()
    try:
        reader._open.extend([10, 10])  # two ghosts: requests the server no longer holds
        reader._heard = 0.0
        await _fill(nc, provisioned, 5)
        msgs = await reader.take(10)
        assert [m.data for m in msgs] == [str(i).encode() for i in range(5)]
    finally:
        await reader.close()


async def test_a_request_refused_for_max_waiting_is_asked_again(nc: Client, provisioned: Settings) -> None:
    """When the server refuses the reader's requests because others still wait on the consumer
    (409 Exceeded MaxWaiting), the reader asks again later and reads on, instead of failing."""
    reader = StreamReader(
        nc.jetstream(), stream=provisioned.event_stream, filter_subject="vhub.evt.>", batch=10, expires_s=0.5
    )
    await reader.start()
    try:
        # given: requests from elsewhere fill the consumer's waiting list for a second
        ghost, inbox = json.dumps({"batch": 10, "expires": 1_000_000_000}).encode(), nc.new_inbox()
        listening = await nc.subscribe(inbox)  # a request whose reply nobody hears is dropped
        for _ in range(4):
            await nc.publish(reader._next, ghost, reply=inbox)
        await nc.flush()
        # when: the reader's own requests are refused, then the ghosts expire and messages come
        assert await reader.take(0.3) == []
        js = nc.jetstream()

        async def ghosts_gone() -> bool:
            info = await js.consumer_info(reader.stream, reader.consumer)
            return bool(info.num_waiting == 0)

        await eventually(ghosts_gone, "the other requests expired", 10)
        await listening.unsubscribe()
        await _fill(nc, provisioned, 5)
        got: list[bytes] = []
        deadline = time.monotonic() + 15
        while len(got) < 5 and time.monotonic() < deadline:
            got += [m.data for m in await reader.take(1)]
        # then
        assert got == [str(i).encode() for i in range(5)]
    finally:
        await reader.close()


async def test_the_operators_reader_starts_from_one_each_time_and_stays(
    nc: Client, provisioned: Settings
) -> None:
    """The rebuild's reader on the provisioned ``reporting_rebuild`` consumer: a second reader
    resets it to sequence 1 once an earlier reader's pull request (still listened to) has expired,
    so that request takes nothing; closing leaves the consumer in place (reporting may not delete it)."""
    js = nc.jetstream()
    await _fill(nc, provisioned, 20)
    assert await _read_all(js, provisioned, 20) == [str(i).encode() for i in range(20)]
    # given: another reader's request waiting on the consumer (at the end), its reply listened to
    ghost_got: list[Msg] = []

    async def ghost(msg: Msg) -> None:
        if not msg.headers or "Status" not in msg.headers:
            ghost_got.append(msg)

    listening = await nc.subscribe(nc.new_inbox(), cb=ghost)
    request = json.dumps({"batch": 100, "expires": 1_000_000_000}).encode()
    subject = f"$JS.API.CONSUMER.MSG.NEXT.{provisioned.event_stream}.{REPORTING_REBUILD}"
    await nc.publish(subject, request, reply=listening.subject)
    await nc.flush()
    try:
        seen = await _read_all(js, provisioned, 20)  # when
    finally:
        await listening.unsubscribe()
    # then
    assert seen == [str(i).encode() for i in range(20)]
    assert ghost_got == [], "the earlier request took what the reset handed out again"
    info = await js.consumer_info(provisioned.event_stream, REPORTING_REBUILD)
    assert PROVISIONED in (info.config.description or ""), "the operator's consumer was replaced"


async def _read_all(js: JetStreamContext, settings: Settings, count: int) -> list[bytes]:
    reader = StreamReader(
        js, stream=settings.event_stream, filter_subject="vhub.evt.>", batch=64, name=REPORTING_REBUILD
    )
    await reader.start()
    try:
        seen: list[bytes] = []
        deadline = time.monotonic() + 15
        while len(seen) < count and time.monotonic() < deadline:
            seen += [m.data for m in await reader.take(5)]
        return seen
    finally:
        await reader.close()


async def test_a_delivery_that_misses_the_reader_fails_the_read(nc: Client, provisioned: Settings) -> None:
    """A reader without acks cannot get a delivery back: when another request on its consumer
    takes some (here one sent after the reader started), the read fails instead of going on
    with a hole."""
    js = nc.jetstream()
    reader = StreamReader(
        js, stream=provisioned.event_stream, filter_subject="vhub.evt.>", batch=64, name=REPORTING_REBUILD
    )
    await reader.start()
    thief = await nc.subscribe(nc.new_inbox())
    try:
        # given: a request ahead of the reader's own takes the first five
        await nc.publish(
            reader._next, json.dumps({"batch": 5, "expires": 5_000_000_000}).encode(), reply=thief.subject
        )
        await nc.flush()
        await _fill(nc, provisioned, 20)
        # when / then
        with pytest.raises(PullError, match="deliveries missed"):
            await _take_until_it_fails(reader)
    finally:
        await thief.unsubscribe()
        await reader.close()


async def _take_until_it_fails(reader: StreamReader) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        await reader.take(1)
