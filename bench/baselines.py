"""The baselines every vhub figure is divided by, measured on this run's own nats-server.

(a) a bare nats-py request handler (bench.bare_handler, its own process) appending one event with the
OCC and Msg-Id headers, at 1/10/100 requests in flight; (b) raw ``js.publish_async`` of the same
events; (c) raw pull-consume: fetch batches of 500 and ack (ack-all, as vhub's consumer does; and
ack-each), and fetch 1,000 without acks (as a rebuild reads); (d) atomic batches of three such
events, the shape of a command that writes several aggregates at once.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, Header

from bench import payloads
from bench.load import LoadResult, closed_loop
from bench.stack import ROOT, RssWatch
from shared.envelope import H_EXPECTED_LAST_SUBJECT_SEQ, H_MSG_ID
from shared.settings import load_settings
from shared.streams import provision


@dataclass
class Baselines:
    handler: dict[int, LoadResult]
    publish_async_rate: float
    pull_ack_all_rate: float
    pull_ack_each_rate: float
    pull_no_ack_rate: float
    atomic_batch: dict[int, float]  # in flight -> batches/s of 3 events (OCC + Msg-Id each)

    @property
    def pull_rate(self) -> float:
        """The pull-consume ceiling: the fastest of the ways to read the stream."""
        return max(self.pull_ack_all_rate, self.pull_ack_each_rate, self.pull_no_ack_rate)


async def provision_hub(url: str, hub: str) -> str:
    nc = await nats.connect(url)
    try:
        settings = load_settings(hub=hub, nats_url=url)
        await provision(nc.jetstream(), settings)
        return settings.event_stream
    finally:
        await nc.close()


async def bare_handler(
    url: str, hub: str, in_flights: list[int], seconds: float, rss: RssWatch | None = None
) -> dict[int, LoadResult]:
    subject = f"bench.bare.{hub}"
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
        [sys.executable, "-m", "bench.bare_handler", url, hub, subject],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
        if line.strip() != b"ready":
            raise RuntimeError(f"bare handler did not start: {line!r}")
        if rss is not None:
            rss.watch("bare handler", proc.pid)
        run = str(uuid.uuid4())
        nc = await nats.connect(url)
        out: dict[int, LoadResult] = {}
        try:
            for n in in_flights:
                out[n] = await closed_loop(
                    nc,
                    subject,
                    payloads.register_factory(run, offset=n * 10**7),
                    in_flight=n,
                    seconds=seconds,
                    check=payloads.refusal_code,
                    cpu_of={"bare": proc.pid},
                )
        finally:
            await nc.close()
        return out
    finally:
        proc.terminate()
        proc.wait(10)


async def publish_async_rate(nc: Client, hub: str, count: int) -> float:
    """Raw ``publish_async`` of ``count`` new-aggregate events (OCC 0 + Msg-Id each).

    Payloads are made before the clock starts (1,000 distinct ones, reused); each message still
    gets its own subject and Msg-Id, so the server does the same work as for unique events.
    """
    js = nc.jetstream(timeout=30, publish_async_max_pending=4000)
    run = str(uuid.uuid4())
    templates = [payloads.volunteer_event(hub, i, run)[1] for i in range(1_000)]
    prefix = f"vhub.evt.{hub}.registry.volunteer."
    pending: list[asyncio.Future[Any]] = []
    t0 = time.perf_counter()
    for i in range(count):
        agg = f"{run[:8]}-{i}"
        headers = {H_MSG_ID: f"{hub}:{run}:{i}:0", H_EXPECTED_LAST_SUBJECT_SEQ: "0"}
        pending.append(await js.publish_async(prefix + agg, templates[i % 1_000], headers=headers))
        if len(pending) >= 20_000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    return count / (time.perf_counter() - t0)


async def pull_rate(nc: Client, stream: str, count: int, *, ack: str) -> float:
    """Consume ``count`` events from the start of ``stream`` with a fresh durable pull consumer.

    ``ack``: "all" (fetch 500, ack the last: vhub's live consumer), "each" (fetch 500, ack every
    message), "none" (fetch 1,000, no acks: how a rebuild reads).
    """
    js = nc.jetstream(timeout=30)
    durable = f"bench_pull_{uuid.uuid4().hex[:8]}"
    policy = {"all": AckPolicy.ALL, "each": AckPolicy.EXPLICIT, "none": AckPolicy.NONE}[ack]
    await js.add_consumer(
        stream,
        ConsumerConfig(
            durable_name=durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=policy,
            max_ack_pending={"all": 500, "each": 20_000, "none": -1}[ack],
        ),
    )
    sub = await js.pull_subscribe_bind(durable=durable, stream=stream)
    batch = 1_000 if ack == "none" else 500
    seen = 0
    t0 = time.perf_counter()
    while seen < count:
        msgs = await sub.fetch(batch, timeout=10)
        seen += len(msgs)
        if ack == "all":
            await msgs[-1].ack()
        elif ack == "each":
            for m in msgs:
                await m.ack()
    elapsed = time.perf_counter() - t0
    await sub.unsubscribe()
    await js.delete_consumer(stream, durable)
    return seen / elapsed


async def atomic_batch_rate(url: str, hub: str, *, size: int, in_flight: int, seconds: float) -> float:
    """Atomic batches (ADR-50) of ``size`` new-aggregate events, ``in_flight`` at a time.

    The shape of a command that writes several aggregates at once (register_volunteer claims a
    phone, records the volunteer and notes the identity in one batch).
    """
    nc = await nats.connect(url)
    done = 0
    stop_at = time.monotonic() + seconds
    run = str(uuid.uuid4())

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop_at:
            batch_id = uuid.uuid4().hex
            for n in range(1, size + 1):
                subject, payload, headers = payloads.volunteer_event(hub, done * size + n, run)
                headers = {**headers, Header.BATCH_ID: batch_id, Header.BATCH_SEQUENCE: str(n)}
                if n < size:
                    await nc.publish(subject, payload, headers=headers)
                    continue
                headers[Header.BATCH_COMMIT] = "1"
                reply = await nc.request(subject, payload, headers=headers, timeout=30)
                if b'"error"' in reply.data:
                    raise RuntimeError(f"atomic batch refused: {reply.data[:200]!r}")
            done += 1

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(in_flight)))
    finally:
        await nc.close()
    return done / (time.perf_counter() - started)


async def measure(
    url: str, *, in_flights: list[int], seconds: float, events: int, rss: RssWatch | None = None
) -> Baselines:
    hub = "bb" + uuid.uuid4().hex[:6]
    stream = await provision_hub(url, hub)
    handler = await bare_handler(url, hub, in_flights, seconds, rss)
    atomic = {n: await atomic_batch_rate(url, hub, size=3, in_flight=n, seconds=seconds) for n in (1, 100)}
    hub2 = "bp" + uuid.uuid4().hex[:6]
    stream2 = await provision_hub(url, hub2)
    nc = await nats.connect(url)
    try:
        pub = await publish_async_rate(nc, hub2, events)
        ack_all = await pull_rate(nc, stream2, events, ack="all")
        ack_each = await pull_rate(nc, stream2, events, ack="each")
        no_ack = await pull_rate(nc, stream2, events, ack="none")
        for name in (stream, stream2):
            await nc.jetstream().delete_stream(name)
    finally:
        await nc.close()
    return Baselines(handler, pub, ack_all, ack_each, no_ack, atomic)
