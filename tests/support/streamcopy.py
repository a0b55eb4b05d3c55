"""Reading a stream back in full (an ephemeral consumer, fast at 100,000s of messages) to compare
an origin's log with central's sourced copy message for message."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import ServiceUnavailableError


@dataclass(frozen=True)
class Copy:
    """One message as the fault tests compare it."""

    seq: int  # in the stream it was read from
    subject: str
    msg_id: str
    data: bytes
    origin: str  # the sourced stream's name ("" in the stream that owns it)
    origin_seq: int  # its sequence in that stream (its own seq when not a copy)


async def read_stream(
    nc: Client, stream: str, *, domain: str | None = None, within: float = 60.0
) -> list[Copy]:
    """Every message of ``stream``, in order, through an ephemeral consumer (fast at 100,000s).
    A read: when the cluster answers "unavailable" (a consumer placed on a node that has just
    restarted), it goes on from the next sequence with a new consumer, for up to ``within`` s."""
    js = nc.jetstream(domain=domain, timeout=10)
    last = (await js.stream_info(stream)).state.last_seq
    out: list[Copy] = []
    deadline = asyncio.get_running_loop().time() + within
    while not out or out[-1].seq < last:
        try:
            await _read_from(js, stream, (out[-1].seq + 1) if out else 1, last, out)
        except (ServiceUnavailableError, nats.errors.TimeoutError):
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.2)  # before a new consumer; bounded by the deadline
    return out


async def _read_from(js: JetStreamContext, stream: str, first: int, last: int, out: list[Copy]) -> None:
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=first,
        inactive_threshold=60,
        mem_storage=True,
    )
    consumer = await js.add_consumer(stream, config)
    sub = await js.pull_subscribe_bind(consumer.name, stream)
    try:
        while not out or out[-1].seq < last:
            for msg in await sub.fetch(1000, timeout=10):
                headers = msg.headers or {}
                source = headers.get("Nats-Stream-Source", "").split()
                seq = msg.metadata.sequence.stream
                out.append(
                    Copy(
                        seq=seq,
                        subject=msg.subject,
                        msg_id=headers.get("Nats-Msg-Id", ""),
                        data=msg.data,
                        origin=source[0].split(":")[0] if source else "",
                        origin_seq=int(source[1]) if source else seq,
                    )
                )
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        with contextlib.suppress(Exception):
            await js.delete_consumer(stream, consumer.name)


def copies_of(central: list[Copy], stream: str) -> list[tuple[int, str, str, bytes]]:
    return [(c.origin_seq, c.subject, c.msg_id, c.data) for c in central if c.origin == stream]


def as_origin(log: list[Copy]) -> list[tuple[int, str, str, bytes]]:
    return [(c.seq, c.subject, c.msg_id, c.data) for c in log]
