"""Rebuild: fresh tables of the inactive colour from sequence 1, then an atomic switch.

The live projection and the API keep working on the active colour meanwhile. The rebuild reads
with an ephemeral pull consumer that needs no acks (a failed rebuild starts again from scratch),
keeps the new tables' entity rows in memory (it is their only writer, from empty, so it never
reads them back), writes batch N while it fetches and decodes batch N+1, and switches as soon as
it has reached the live projection's checkpoint. Events after that are the live projection's again: its
batches at or below the rebuilt checkpoint are skipped.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.reporting.decoding import decode_msg
from services.reporting.projections import Loaded
from services.reporting.store import Item, Position, ReportingStore
from shared.envelope import utcnow

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Progress:
    applied: int  # messages folded so far
    position: int  # last stream sequence folded
    total: int  # the stream's last sequence as last seen
    rate: float  # messages per second since the start
    eta_s: float | None  # seconds to reach ``total`` at ``rate``


ProgressCallback = Callable[[Progress], None]


async def rebuild(
    js: JetStreamContext,
    store: ReportingStore,
    *,
    stream: str,
    filter_subject: str = "vhub.evt.>",
    batch_size: int = 1_000,
    progress: ProgressCallback | None = None,
    fetch_timeout: float = 0.5,
) -> Position:
    """Rebuild ``store``'s projection from ``stream`` and make it live. Returns where it switched."""
    owner = uuid.uuid4().hex
    colour = await store.begin_rebuild(owner)
    total = (await js.stream_info(stream)).state.last_seq
    log.info("rebuild_started", projection=store.projection, colour=colour, total=total)
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=60.0, max_waiting=4
    )
    sub = await js.pull_subscribe(filter_subject, stream=stream, config=config)
    started, applied, last = time.perf_counter(), 0, 0
    skipped = 0

    async def fetch() -> list[Msg]:
        try:
            return await sub.fetch(batch_size, timeout=fetch_timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            return []

    memory = Loaded()  # the new colour's entity rows: we are their only writer, from empty
    writing: asyncio.Task[int] | None = None  # the previous batch, written while we fetch
    try:
        while True:
            msgs = await fetch()
            if msgs:
                items: list[Item] = []
                for msg in msgs:
                    item, reason = decode_msg(msg)
                    skipped += reason is not None  # the live projection dead-letters it
                    items.append(item)
                if writing is not None:
                    await writing  # batches are written in order, one at a time
                writing = asyncio.create_task(store.apply(items, rebuild_owner=owner, memory=memory))
                applied, last = applied + len(items), items[-1].seq
                total = max(total, last + int(msgs[-1].metadata.num_pending or 0))
                if progress is not None:
                    progress(_progress(applied, last, total, started))
                if msgs[-1].metadata.num_pending:
                    continue
            if writing is not None:
                await writing
                writing = None
            if await store.try_switch(owner, utcnow()):
                break
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
        info = sub._consumer  # nats-py keeps the ephemeral consumer's name here
        await sub.unsubscribe()
        try:
            await js.delete_consumer(stream, info)
        except Exception as err:  # the consumer expires on its own after inactive_threshold
            log.warning("rebuild_consumer_not_deleted", error=str(err))
    at = await store.position()
    log.info(
        "rebuild_switched",
        projection=store.projection,
        colour=at.colour,
        position=at.position,
        applied=applied,
        undecodable=skipped,
        seconds=round(time.perf_counter() - started, 3),
    )
    return at


def _progress(applied: int, position: int, total: int, started: float) -> Progress:
    elapsed = max(time.perf_counter() - started, 1e-9)
    rate = applied / elapsed
    left = max(total - position, 0)
    return Progress(applied, position, total, rate, left / rate if rate > 0 else None)
