"""The live projection: a :class:`shared.projection.ProjectionRunner` decodes JetStream messages
into items (:func:`.decoding.decode_bytes`), and each batch is one store transaction.

Undecodable or unknown events go to the dead-letter stream with the reason; their sequence still
moves the checkpoint (as a dead letter), so the projection keeps going behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from services.reporting.decoding import decode_bytes
from services.reporting.store import Item, ReportingStore
from shared.consumer import PROVISIONED
from shared.deadletter import DeadLetters
from shared.metrics import CONSUMER_POSITION
from shared.projection import Batch, ProjectionRunner
from shared.provisioned import REPORTING

log = structlog.get_logger(__name__)
DURABLE = REPORTING  # provisioned by the operator (shared/provisioned.py)
# After a batch shorter than the batch size, the next fetch waits this long (its commit runs
# meanwhile). A batch's fixed cost (a fetch, an ack, the checkpoint's statements) is most of an
# event's under a trickle: at 1,000 events/s the fetches came back with a few events each and the
# projection took the CPU the registry and the API needed. Reads wait at most this much longer.
LIVE_PACE_S = 0.02


async def drop_orphaned_deliveries(js: JetStreamContext, stream: str, durable: str) -> None:
    """Delete the durable consumer if a dead predecessor left deliveries unacknowledged.

    Those would only come back after ``ack_wait``; with ``max_ack_pending`` at one batch nothing
    else is delivered meanwhile. :meth:`DurableConsumer.ensure` then recreates it from our
    checkpoint, which is where the truth is anyway. (One live instance per durable.) One the
    operator provisioned is left to ``ensure``, which resets it (we may not delete it).
    """
    try:
        info = await js.consumer_info(stream, durable)
    except NotFoundError:
        return
    if info.num_ack_pending and PROVISIONED not in (info.config.description or ""):
        log.info("consumer_reset", durable=durable, unacked=info.num_ack_pending)
        await js.delete_consumer(stream, durable)


class PositionWatch:
    """Wakes readers waiting for the projection to reach a position (see ``min_position``).

    ``listeners`` are called with each committed position (metrics, benchmarks)."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()
        self.listeners: list[Callable[[int], None]] = []
        self.generation = 0  # one more after each commit of this process's projection

    def moved(self, position: int = 0) -> None:
        self.generation += 1
        self._changed.set()
        self._changed = asyncio.Event()
        for listener in self.listeners:
            listener(position)

    def mark(self) -> asyncio.Event:
        """Take before reading the position; ``wait(…, since=mark)`` then returns at once if the
        position moved in between (a commit landing during the read is not missed)."""
        return self._changed

    async def wait(self, seconds: float, since: asyncio.Event | None = None) -> None:
        """Return when the position moves (or after ``seconds``, for writers in other processes)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for((since or self._changed).wait(), seconds)


class RewoundError(RuntimeError):
    """A commit failed after its batch was acked; the consumer was moved back to the checkpoint."""


class LiveProjection:
    """The live reporting projection, one batch in flight behind the fetch.

    Its :class:`ProjectionRunner` decodes a batch (overlapping the previous batch's commit) and
    dead-letters poison; ``apply`` waits until the previous batch is committed, starts committing
    this one and returns, so the consumer acks it and fetches the next while the database works. An ack
    ahead of the commit is safe: the checkpoint, not the ack floor, says what was applied. After a
    crash ``DurableConsumer.ensure`` recreates a consumer that is ahead of the checkpoint; after a
    failed commit ``rewind`` recreates it from the checkpoint at once, and the batch comes again.
    """

    def __init__(
        self,
        store: ReportingStore,
        dead_letters: DeadLetters,
        watch: PositionWatch | None = None,
        rewind: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._dlq = dead_letters
        self.watch = watch or PositionWatch()
        self.rewind = rewind
        self.position = 0
        self._committing: asyncio.Task[None] | None = None
        self._rewind_due = False

    async def apply(self, batch: Batch[Item]) -> None:
        """The runner's batch (decoded, poison already dead-lettered): wait until the previous one
        is committed, start committing this one and return."""
        if not batch.items:
            return
        await self._settle()
        self._committing = asyncio.create_task(self._commit(batch.items, batch.origins))

    def runner(
        self, js: JetStreamContext, *, stream: str, filter_subject: str, batch_size: int
    ) -> ProjectionRunner[Item]:
        """The runner feeding this projection from the durable ``reporting`` consumer: the typed
        fast decoder, poison to the dead-letter stream with the reason."""
        return ProjectionRunner(
            js,
            self,
            decode_bytes,
            stream=stream,
            durable=DURABLE,
            filter_subjects=[filter_subject],
            dead_letters=self._dlq,
            batch_size=batch_size,
            pace=LIVE_PACE_S,
        )

    async def _settle(self) -> None:
        """Wait for the batch in flight. If it failed, rewind the consumer to the checkpoint and
        raise, so this batch is nak'd too and everything after the checkpoint comes again."""
        task, self._committing = self._committing, None
        if task is not None:
            try:
                await task
            except Exception:
                log.exception("commit_failed")
                self._rewind_due = True
        if self._rewind_due:
            at = (await self._store.position()).position
            if self.rewind is not None:
                await self.rewind(at)
            self._rewind_due = False
            log.warning("consumer_rewound", checkpoint=at)
            raise RewoundError(f"redelivering from {at + 1} after a failed commit")

    async def flush(self) -> None:
        """On shutdown: let the batch in flight commit (if it cannot, the next start rewinds)."""
        task, self._committing = self._committing, None
        if task is not None:
            try:
                await task
            except Exception:
                log.exception("commit_failed_at_shutdown")

    async def _commit(self, items: list[Item], origins: dict[str, int]) -> None:
        applied = await self._store.apply(items, origins=origins)
        self.position = items[-1].seq
        CONSUMER_POSITION.labels(DURABLE).set(self.position)
        self.watch.moved(self.position)
        log.debug("batch_applied", size=len(items), new=applied, position=self.position)
