"""Load → decide → append, with a bounded snapshot cache and optimistic-concurrency retries.

A snapshot is the folded state, the stream sequence it reflects, and the ids of the commands recorded
on the aggregate, so a retried command is answered from the log, however late it comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Generic, TypeVar

import structlog

from shared.decider import EvolveFn, Rejected
from shared.envelope import Envelope, derive_id, event_subject
from shared.events import Event
from shared.eventstore import ConcurrencyConflictError, EventStore
from shared.upcast import decode

S = TypeVar("S")
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CommandContext:
    """Who asked for what, when: passed into every write (the domain never reads a clock)."""

    command_id: str
    correlation_id: str
    actor: str
    received_at: datetime
    causation_id: str | None = None


@dataclass(frozen=True)
class EventRef:
    """One recorded event of a command, as the log holds it."""

    seq: int
    event_type: str
    event_id: str


@dataclass(frozen=True)
class Snapshot(Generic[S]):
    state: S
    version: int
    commands: dict[str, tuple[EventRef, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What an accepted command did to one aggregate."""

    aggregate_id: str
    version: int
    events: tuple[EventRef, ...]
    duplicate: bool = False


class Aggregates(Generic[S]):
    """The repository of one aggregate kind (``<context>.<aggregate>``) of this hub."""

    def __init__(
        self,
        store: EventStore,
        *,
        context: str,
        aggregate: str,
        initial: Callable[[], S],
        evolve: EvolveFn[S],
        cache_size: int = 10_000,
        retries: int = 5,
    ) -> None:
        self._store = store
        self.context = context
        self.aggregate = aggregate
        self._initial = initial
        self._evolve = evolve
        self._cache: OrderedDict[str, Snapshot[S]] = OrderedDict()
        self._cache_size = cache_size
        self._retries = retries
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def subject(self, aggregate_id: str) -> str:
        return event_subject(self._store.hub, self.context, self.aggregate, aggregate_id)

    async def load(self, aggregate_id: str) -> Snapshot[S]:
        """The aggregate as of now: the cached snapshot plus whatever the log has after it."""
        subject = self.subject(aggregate_id)
        snap = self._cache.get(subject) or Snapshot(self._initial(), 0, {})
        newer = await self._store.read(subject, after_seq=snap.version)
        if newer:
            state, commands = snap.state, dict(snap.commands)
            for rec in newer:
                env = rec.envelope
                state = self._evolve(state, decode(env))
                commands[env.command_id] = (
                    *commands.get(env.command_id, ()),
                    EventRef(rec.seq, env.event_type, env.event_id),
                )
            snap = Snapshot(state, newer[-1].seq, commands)
        self._remember(subject, snap)
        return snap

    async def execute(
        self,
        aggregate_id: str,
        ctx: CommandContext,
        decide: Callable[[S], list[Event]],
    ) -> Outcome:
        """Decide against the current state and append; on a lost race, reload and decide again.

        A command id already recorded on this aggregate returns its first outcome unchanged.
        Within one process, writes to one aggregate take turns (no conflict among ourselves);
        across processes, optimistic concurrency decides and the loser retries with jitter.
        """
        subject = self.subject(aggregate_id)
        async with self._turn(subject):
            return await self._execute(subject, aggregate_id, ctx, decide)

    @contextlib.asynccontextmanager
    async def _turn(self, subject: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(subject) or (asyncio.Lock(), 0)
        self._locks[subject] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[subject]
            if users == 1:
                del self._locks[subject]
            else:
                self._locks[subject] = (lock, users - 1)

    async def _execute(
        self,
        subject: str,
        aggregate_id: str,
        ctx: CommandContext,
        decide: Callable[[S], list[Event]],
    ) -> Outcome:
        for attempt in range(self._retries + 1):
            snap = await self.load(aggregate_id)
            if ctx.command_id in snap.commands:
                done = snap.commands[ctx.command_id]
                return Outcome(aggregate_id, done[-1].seq, done, duplicate=True)
            events = decide(snap.state)
            if not events:
                return Outcome(aggregate_id, snap.version, ())
            envelopes = [self._envelope(aggregate_id, ctx, ev, n) for n, ev in enumerate(events)]
            try:
                result = await self._store.append(subject, envelopes, expected=snap.version)
            except ConcurrencyConflictError:
                log.debug("occ_conflict", subject=subject, attempt=attempt)
                self._cache.pop(subject, None)
                # another process won: back off a little, with jitter, so racers spread out
                await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))
                continue
            if result.duplicate:  # our own earlier write: the next load tells exactly what it was
                self._cache.pop(subject, None)
                continue
            recorded = tuple(
                EventRef(result.first_seq + i, env.event_type, env.event_id)
                for i, env in enumerate(envelopes)
            )
            state = snap.state
            for ev in events:
                state = self._evolve(state, ev)
            self._remember(
                subject,
                replace(snap, state=state, version=result.last_seq,
                        commands={**snap.commands, ctx.command_id: recorded}),
            )
            return Outcome(aggregate_id, result.last_seq, recorded)
        raise Rejected(
            "concurrency_conflict",
            f"{self.aggregate} {aggregate_id} kept changing under {self._retries + 1} attempts; "
            "send the command again",
        )

    def _envelope(self, aggregate_id: str, ctx: CommandContext, ev: Event, n: int) -> Envelope:
        return Envelope(
            event_id=derive_id(self._store.hub, ctx.command_id, aggregate_id, str(n)),
            event_type=ev.event_type,
            schema_version=ev.schema_version,
            aggregate_id=aggregate_id,
            hub=self._store.hub,
            occurred_at=ctx.received_at,
            recorded_at=ctx.received_at,
            command_id=ctx.command_id,
            correlation_id=ctx.correlation_id,
            causation_id=ctx.causation_id,
            actor=ctx.actor,
            data=ev.model_dump(mode="json"),
        )

    def _remember(self, subject: str, snap: Snapshot[S]) -> None:
        if self._cache_size <= 0:
            return
        self._cache[subject] = snap
        self._cache.move_to_end(subject)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
