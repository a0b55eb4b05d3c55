"""One projection runner: a durable consumer's batches, read as events, applied by a projection.

Per message, in stream order:

1. **position**: at or below the projection's position it is a redelivery and is skipped (the
   projection's position, kept with its effects, is the truth; the consumer is only a cursor);
2. **event-type filter**: a ``Vhub-Event-Type`` header naming a type the projection does not read
   skips it unread;
3. **decode with upcasting**: the envelope, then its payload brought to the current version
   (:func:`decode_event`, or a projection's own faster decoder with the same contract);
4. **poison**: what cannot be decoded goes to the dead-letter stream with the reason, or, for a
   projection given no :class:`DeadLetters`, is counted and logged with the reason. Its sequence
   still moves the position, so the projection keeps going behind it.

The batch then reaches the projection's ``apply`` in one call (decoded items plus the batch's
last sequence, and for a stream that sources others how far it goes in each origin), so a store
can apply it and move its checkpoint in one transaction; position and lag are exported as metrics.
:meth:`ProjectionRunner.run` keeps the consumer going: after a failure it backs off and recreates
the consumer from the projection's position. The consumer is checked for deliveries that never
arrived (a fetch answer lost with a dropped link): every runner's consumer has this one reader, so
its consumer sequences must follow on without a hole, or it starts again right after the
projection's position and the batch is not acked (:class:`shared.consumer.DurableConsumer`).

Who dead-letters: only reporting, which reads every event of the log once into a durable store.
Dispatch's and the registry's projections are in memory and replay the log on every start, one per
replica: their dead letters would repeat per replica and per start (the DLQ's ``Nats-Msg-Id``
dedup lasts two minutes), so they count (``vhub_poison_events_total``) and log instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from shared.consumer import DurableConsumer, keep_running
from shared.deadletter import DeadLetters
from shared.delivery import origin, pending_after, stream_seq
from shared.envelope import H_EVENT_TYPE
from shared.events import Event
from shared.metrics import CONSUMER_POSITION, POISON_EVENTS
from shared.upcast import PoisonEventError, read_envelope, read_event

log = structlog.get_logger(__name__)
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
T_contra = TypeVar("T_contra", contravariant=True)
# (stream sequence, raw body) -> (the item to apply or None, the reason it is poison or None)
Decoder = Callable[[int, bytes], tuple[T_co | None, str | None]]


@dataclass(frozen=True, slots=True)
class Batch(Generic[T_co]):
    """What one consumer batch gives a projection."""

    items: list[T_co]  # decoded, in stream order (redeliveries, filtered and poison ones left out)
    last_seq: int  # the batch's last stream sequence: the position once the batch is applied
    pending: int  # messages the consumer still had to deliver after it (0: caught up)
    # how far the batch goes in each stream this one sources: origin stream -> its highest sequence
    # there; "" -> the highest sequence written to this stream itself (every message counted)
    origins: dict[str, int] = field(default_factory=dict)


class Projection(Protocol[T_contra]):
    """A projection the runner feeds: its position is the last stream sequence it has applied."""

    @property
    def position(self) -> int: ...

    async def apply(self, batch: Batch[T_contra]) -> None:
        """Apply the batch and move the position to ``batch.last_seq`` (raise to have it again)."""
        ...


def decode_event(seq: int, raw: bytes) -> tuple[tuple[int, Event] | None, str | None]:
    """The general decoder: ``(seq, event)`` at the current version, or the poison reason."""
    try:
        return (seq, read_event(read_envelope(raw))), None
    except PoisonEventError as err:
        return None, err.reason


class ProjectionRunner(Generic[T]):
    """Feeds ``projection`` from a durable consumer named ``durable`` (see the module docstring).

    ``event_types``: the types it reads (None: every message is decoded). ``dead_letters``: where
    poison goes (None: counted and logged). The remaining options are the consumer's.
    """

    def __init__(
        self,
        js: JetStreamContext,
        projection: Projection[T],
        decoder: Decoder[T],
        *,
        stream: str,
        durable: str,
        filter_subjects: list[str],
        event_types: Collection[str] | None = None,
        dead_letters: DeadLetters | None = None,
        batch_size: int = 500,
        pace: float = 0.0,
        inactive_threshold: float | None = None,
    ) -> None:
        self.projection = projection
        self.name = durable
        self._decode = decoder
        self._types = frozenset(event_types) if event_types is not None else None
        self._dlq = dead_letters
        self.caught_up = asyncio.Event()
        self.poison = 0
        self.resume: Callable[[], Awaitable[None]] = self._resume
        self.consumer = DurableConsumer(
            js,
            stream=stream,
            durable=durable,
            filter_subjects=filter_subjects,
            handler=self.handle,
            batch_size=batch_size,
            pace=pace,
            inactive_threshold=inactive_threshold,
            checkpoint=lambda: projection.position,  # where it starts again after a lost delivery
        )

    async def start(self) -> None:
        """Create the consumer from the projection's position (recreating one that is ahead)."""
        await self.consumer.ensure(self.projection.position)
        if await self.consumer.pending() == 0:
            self.caught_up.set()

    async def wait_caught_up(self, within: float) -> bool:
        """Wait until a batch left nothing pending; False (and a warning) after ``within`` s."""
        try:
            await asyncio.wait_for(self.caught_up.wait(), within)
        except TimeoutError:
            log.warning(
                "projection_not_caught_up", projection=self.name, waited_s=within, lag=self.consumer.lag
            )
            return False
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop``; after a failure, ``resume`` and go on."""
        await keep_running(self.consumer, stop, lambda: self.resume())

    async def _resume(self) -> None:
        await self.consumer.ensure(self.projection.position)

    async def handle(self, msgs: list[Msg]) -> None:
        """The consumer's batch handler (raises, and so has the batch again, if ``apply`` does)."""
        if not msgs:
            return
        position = last = self.projection.position
        items: list[T] = []
        origins: dict[str, int] = {}
        for msg in msgs:
            seq = stream_seq(msg)
            if seq <= position:
                continue  # redelivered: already applied
            last = seq
            came = origin(msg)
            if came is None:
                origins[""] = seq
            else:
                origins[came[0]] = came[1]  # in order: the last is the highest
            if self._types is not None:
                event_type = (msg.headers or {}).get(H_EVENT_TYPE)
                if event_type is not None and event_type not in self._types:
                    continue  # nothing this projection reads
            item, reason = self._decode(seq, msg.data)
            if reason is not None:
                await self._poisoned(msg, seq, reason)
            if item is not None:
                items.append(item)
        pending = pending_after(msgs[-1])
        if last > position:
            await self.projection.apply(Batch(items, last, pending, origins))
        CONSUMER_POSITION.labels(self.name).set(self.projection.position)
        if pending == 0:
            self.caught_up.set()

    async def _poisoned(self, msg: Msg, seq: int, reason: str) -> None:
        self.poison += 1
        POISON_EVENTS.labels(self.name).inc()
        if self._dlq is None:
            log.warning("event_unreadable", projection=self.name, subject=msg.subject, seq=seq, reason=reason)
            return
        headers = dict(msg.headers or {})
        await self._dlq.send(
            subject=msg.subject, payload=msg.data, reason=reason, stream_seq=seq, headers=headers
        )
