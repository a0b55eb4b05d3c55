"""Repositories of aggregates: load from a bounded snapshot cache plus the log; write through
:func:`shared.transaction.transact` (decide → append, optimistic-concurrency retries).

A snapshot is the folded state, the stream sequence it reflects, and the ids of the commands recorded
on the aggregate, so a retried command is answered from the log, however late it comes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Generic, TypeVar

import structlog

from shared.decider import EvolveFn
from shared.envelope import Envelope, derive_id, event_subject
from shared.events import Event
from shared.eventstore import EventStore
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

    def subject(self, aggregate_id: str) -> str:
        return event_subject(self._store.hub, self.context, self.aggregate, aggregate_id)

    async def load(self, aggregate_id: str, *, assume_new: bool = False) -> Snapshot[S]:
        """The aggregate as of now: the cached snapshot plus whatever the log has after it
        (``assume_new``: an empty aggregate without asking the log; the append will check)."""
        subject = self.subject(aggregate_id)
        snap = self._cache.get(subject) or Snapshot(self._initial(), 0, {})
        if assume_new and snap.version == 0:
            return snap
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
        """
        from shared.transaction import Target, transact

        [outcome] = await transact(ctx, [Target(self, aggregate_id)], lambda states: [decide(states[0])])
        return outcome

    def cached(self, aggregate_id: str) -> Snapshot[S] | None:
        """The snapshot this process holds, without asking the log (it may be behind it)."""
        return self._cache.get(self.subject(aggregate_id))

    def forget(self, aggregate_id: str) -> None:
        """Drop the cached snapshot (it may be stale after a lost race)."""
        self._cache.pop(self.subject(aggregate_id), None)

    def advance(
        self,
        aggregate_id: str,
        snap: Snapshot[S],
        ctx: CommandContext,
        events: list[Event],
        refs: tuple[EventRef, ...],
    ) -> None:
        """Cache the snapshot after our own append, without reading it back."""
        if self._cache_size <= 0:
            return  # nothing is cached: folding the events would be wasted
        state = snap.state
        for ev in events:
            state = self._evolve(state, ev)
        self._remember(
            self.subject(aggregate_id),
            replace(
                snap, state=state, version=refs[-1].seq, commands={**snap.commands, ctx.command_id: refs}
            ),
        )

    @property
    def store(self) -> EventStore:
        return self._store

    @property
    def retries(self) -> int:
        return self._retries

    def envelope(self, aggregate_id: str, ctx: CommandContext, ev: Event, n: int) -> Envelope:
        # every field comes from validated models: construct without validating again (hot path)
        return Envelope.model_construct(
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
