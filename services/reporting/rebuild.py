"""Rebuild: fresh tables of the inactive colour from sequence 1, then an atomic switch.

The live projection and the API keep working on the active colour meanwhile. The rebuild reads
with an ephemeral pull consumer that needs no acks (a failed rebuild starts again from scratch),
hands each part it reads to a fold worker on the second core (:mod:`services.reporting.fold_worker`:
it decodes and folds, and keeps the new tables' entity rows in memory, as their only writer from
empty, so nothing is read back), commits every ``commit_size`` events or more, writes group N (the
worker's statements) while it reads and the worker folds group N+1 (two pull requests
outstanding: :mod:`shared.reader`; group N+1 grows past ``commit_size`` rather than stop the pull
while group N is still being written), and switches as soon as it has reached the live projection's
checkpoint. Events after that are the live projection's again: its batches at or below the rebuilt
checkpoint are skipped.
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from nats.js import JetStreamContext

from services.reporting.fold_worker import FEW_COLLECTIONS, FoldWorker
from services.reporting.store import Folded, Item, Position, ReportingStore
from shared.delivery import origin, pending_after, stream_seq
from shared.envelope import utcnow
from shared.provisioned import REPORTING_FILTER, REPORTING_REBUILD
from shared.reader import StreamReader

# A group read while its predecessor is still being written may grow to this many commit sizes
# before the reading waits: slow writes then make fewer, larger transactions instead of stalling
# the pull (the server stops sending once the two outstanding requests are answered).
# 2 when the rebuild held each group's decoded events (about 1.1 KB each, beside the live service);
# now the fold worker keeps only a group's changes and the rebuild's process a sequence per event,
# so a write slower than the reading (PostgreSQL on a busy machine) may let the group grow to 4.
GROUP_GROWTH = 4
REBUILD_CONSUMER = REPORTING_REBUILD  # provisioned by the operator (shared/provisioned.py), reset to 1

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
    filter_subject: str = REPORTING_FILTER,
    batch_size: int = 1_000,
    commit_size: int = 10_000,
    progress: ProgressCallback | None = None,
    fetch_timeout: float = 0.5,
) -> Position:
    """Rebuild ``store``'s projection from ``stream`` and make it live. Returns where it switched.

    ``batch_size``: messages per pull request (two stay outstanding). ``commit_size``: events per
    transaction at least (up to ``GROUP_GROWTH`` times that while the previous one is written); a
    rebuild has no reader waiting for each batch, so it commits seldom, and a team or counter row
    touched a hundred times in that span is written once.
    """
    # the second core: decodes and folds each part as it is read, keeps the new colour's entity
    # rows; started first, since it spends seconds importing (spawned: the parent has threads)
    worker = FoldWorker(postgres=store.postgres, provenance=store.provenance)
    owner = uuid.uuid4().hex
    try:
        colour = await store.begin_rebuild(owner)
        total = (await js.stream_info(stream)).state.last_seq
    except BaseException:
        await worker.close(kill=True)
        raise
    log.info("rebuild_started", projection=store.projection, colour=colour, total=total)
    reader = StreamReader(
        js, stream=stream, filter_subject=filter_subject, batch=batch_size, name=REBUILD_CONSUMER
    )
    started, applied, last = time.perf_counter(), 0, 0
    skipped, groups, write_wait = 0, 0, 0.0
    writing: asyncio.Task[int] | None = None  # the previous group, written while we read on
    group: list[Item] = []  # the group's sequences (what it holds, the worker has)
    origins: dict[str, int] = {}  # how far the group goes in each hub's log
    failed, thresholds = True, gc.get_threshold()
    gc.set_threshold(*FEW_COLLECTIONS)  # as in the worker: the pull makes many short-lived objects
    try:
        await reader.start()
        while True:
            msgs = await reader.take(fetch_timeout)
            caught_up = not msgs
            if msgs:
                own = 0  # the last message written to this stream itself (not a sourced copy)
                seqs = [stream_seq(msg) for msg in msgs]
                await worker.feed(seqs, [msg.data for msg in msgs])
                group.extend([Item(seq, None, None) for seq in seqs])
                for msg, seq in zip(msgs, seqs, strict=True):
                    came = origin(msg) if msg.headers else None  # only a sourced copy has headers here
                    if came is None:
                        own = seq
                    else:
                        origins[came[0]] = came[1]
                if own:
                    origins[""] = own
                pending = pending_after(msgs[-1])
                caught_up = pending == 0
                applied, last = applied + len(msgs), seqs[-1]
                total = max(total, last + pending)
                if progress is not None:
                    progress(_progress(applied, last, total, started))
            if group and (caught_up or len(group) >= commit_size):
                if writing is not None and not writing.done():
                    if not caught_up and len(group) < commit_size * GROUP_GROWTH:
                        continue  # read on into this group while the last one is written
                    waited = time.perf_counter()
                    await writing  # groups are written in order, one at a time
                    write_wait += time.perf_counter() - waited
                if writing is not None:
                    skipped += writing.result()  # a failed write ends the rebuild here
                writing = asyncio.create_task(_write(store, group, worker.cut(colour), origins, owner))
                group, origins = [], {}
                groups += 1
            if not caught_up:
                continue
            if writing is not None:
                skipped += await writing
                writing = None
            if await store.try_switch(owner, utcnow()):
                break
        failed = False
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
        elif writing is not None and not writing.cancelled():
            writing.exception()  # seen: the error that ended the rebuild is already on its way
        await worker.close(kill=failed)
        await reader.close()
        gc.set_threshold(*thresholds)
    at = await store.position()
    log.info(
        "rebuild_switched",
        projection=store.projection,
        colour=at.colour,
        position=at.position,
        applied=applied,
        undecodable=skipped,
        groups=groups,
        write_wait_s=round(write_wait, 3),  # time the reading stood still for a group's write
        seconds=round(time.perf_counter() - started, 3),
    )
    return at


async def _write(
    store: ReportingStore, group: list[Item], folded: Awaitable[Folded], origins: dict[str, int], owner: str
) -> int:
    """Write a group once the worker has folded it; returns how many of its events were unreadable."""
    done = await folded
    await store.apply(group, origins=origins, rebuild_owner=owner, folded=done)
    return done.summary.dead_lettered


def _progress(applied: int, position: int, total: int, started: float) -> Progress:
    elapsed = max(time.perf_counter() - started, 1e-9)
    rate = applied / elapsed
    left = max(total - position, 0)
    return Progress(applied, position, total, rate, left / rate if rate > 0 else None)
