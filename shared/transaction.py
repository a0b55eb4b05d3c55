"""The write path: load → decide → append, for one aggregate or several (docs/architecture.md §2).

Every append carries each aggregate's expected version, so it lands only if none of them changed
since they were read; the loser of a race reloads, decides again (a rule may now refuse it) after a
short jittered back-off. The first attempt trusts this process's cached snapshots (one round trip
less on a hot aggregate); a refusal or a no-op decided on them is checked against the log before it
is answered. Within one process, writers of the same aggregates take turns (locks taken in subject
order, so two commands never wait on each other in a circle). Several aggregates are appended as
one atomic batch. A lost ack is recognised by the store (its last Msg-Id), a duplicate by the log.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import structlog

from shared.aggregates import Aggregates, CommandContext, EventRef, Outcome, Snapshot
from shared.decider import Rejected
from shared.events import Event
from shared.eventstore import ConcurrencyConflictError, EventStore, Write

log = structlog.get_logger(__name__)


class Turns:
    """Per-subject locks that disappear when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[str, list[Any]] = {}  # subject -> [lock, users]

    def hold(self, subjects: Sequence[str]) -> Held:
        """``async with turns.hold(subjects):`` the caller's turn on every one of ``subjects``."""
        return Held(self._locks, sorted(set(subjects)))  # one global order: no waiting in a circle


class Held:
    """One turn on some subjects. A class, not ``@asynccontextmanager``: it is taken for every
    command, and the generator machinery cost more than the locks."""

    __slots__ = ("_acquired", "_counted", "_locks", "_ordered")

    def __init__(self, locks: dict[str, list[Any]], ordered: list[str]) -> None:
        self._locks = locks
        self._ordered = ordered
        self._counted: list[str] = []  # subjects whose users count includes us
        self._acquired: list[str] = []  # subjects whose lock we hold

    async def __aenter__(self) -> None:
        try:
            for subject in self._ordered:
                entry = self._locks.get(subject)
                if entry is None:
                    entry = self._locks[subject] = [asyncio.Lock(), 0]
                entry[1] += 1
                self._counted.append(subject)
                await entry[0].acquire()
                self._acquired.append(subject)
        except BaseException:  # cancelled while waiting: give back what we took, and only that
            self._leave()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._leave()

    def _leave(self) -> None:
        for subject in self._acquired:
            self._locks[subject][0].release()
        for subject in self._counted:
            entry = self._locks[subject]
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[subject]
        self._acquired.clear()
        self._counted.clear()


@dataclass(frozen=True)
class Target:
    """An aggregate a command writes. ``new``: almost surely empty (its id was just derived from
    the command id, or it is a key most commands find free), so it is not read first; if it is not
    empty (a resend, a taken key), the append's expected sequence 0 fails and the retry, at once
    and without back-off, reads it. ``guard``: the expected version is checked over this subject
    filter instead of the aggregate's own subject (the registry's phone slots); a conflict on a
    guarded write is the caller's to resolve, so it is raised, never retried here."""

    repo: Aggregates[Any]
    aggregate_id: str
    new: bool = False
    guard: str | None = None

    @cached_property  # asked several times per command (frozen: cached_property writes __dict__)
    def subject(self) -> str:
        return self.repo.subject(self.aggregate_id)


Decide = Callable[[list[Any]], list[list[Event]]]


class Writer:
    """The one write path of a service instance: load → decide → append, retried on a lost race.

    Built once per instance (its composition root) and shared by every use case, so writers of one
    aggregate in this process take turns. ``write`` is one aggregate, one single append (the
    common case, and the way to write a sequence of ordered appends); ``transact`` is several
    aggregates in one atomic batch (rare commands: batches cost ~10x a single append).
    """

    def __init__(self, store: EventStore, *, retries: int = 5) -> None:
        self.store = store
        self.retries = retries
        self._turns = Turns()

    async def write(
        self, ctx: CommandContext, target: Target, decide: Callable[[Any], list[Event]]
    ) -> Outcome:
        """``decide`` over the target's current state, its events appended guarded by its version."""
        [outcome] = await self.transact(ctx, [target], lambda states: [decide(states[0])])
        return outcome

    async def transact(self, ctx: CommandContext, targets: list[Target], decide: Decide) -> list[Outcome]:
        """Run ``decide`` over the targets' current states (in order) and record its events, one
        list per target, atomically. A command id already recorded returns the first outcome."""
        store, retries = self.store, self.retries
        async with self._turns.hold([t.subject for t in targets]):
            for attempt in range(retries + 1):
                snaps, unread = await _snapshots(targets, first=attempt == 0)
                guessed = attempt == 0 and (unread or any(t.new for t in targets))
                if any(ctx.command_id in s.commands for s in snaps):
                    return [_recorded(t, s, ctx) for t, s in zip(targets, snaps, strict=True)]
                try:
                    decided = decide([s.state for s in snaps])
                except Rejected:
                    if not unread:
                        raise
                    continue  # refused on cached state: ask the log before refusing
                plan = [(t, s, evs) for t, s, evs in zip(targets, snaps, decided, strict=True) if evs]
                if not plan:
                    if unread:  # nothing to do, decided on cached state: ask the log first
                        continue
                    return [
                        Outcome(t.aggregate_id, s.version, ()) for t, s in zip(targets, snaps, strict=True)
                    ]
                envelopes = {
                    t.subject: [t.repo.envelope(t.aggregate_id, ctx, ev, n) for n, ev in enumerate(evs)]
                    for t, _, evs in plan
                }
                try:
                    results = await store.append_many(
                        [Write(t.subject, envelopes[t.subject], s.version, t.guard) for t, s, _ in plan]
                    )
                except ConcurrencyConflictError:
                    log.debug("occ_conflict", subjects=[t.subject for t in targets], attempt=attempt)
                    if any(t.guard for t in targets):
                        for t in targets:
                            t.repo.forget(t.aggregate_id)
                        raise  # what the guard spans is not ours to reload: the caller decides
                    # the cached snapshots stay: each is a prefix of its subject's log (only loads
                    # and our own acknowledged appends move it), so the next load reads only the
                    # events after it (shared/subjectread.py: one direct get when one behind) and
                    # tells a lazy cache feed that another writer is about (shared/cachefeed.py)
                    if (
                        not guessed
                    ):  # another process won: back off a little, with jitter, so racers spread out
                        await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))
                    continue
                if results[0].duplicate:  # our own earlier write: the next load says what it was
                    for t in targets:
                        t.repo.forget(t.aggregate_id)
                    continue
                outcomes = {}
                for (t, s, evs), res in zip(plan, results, strict=True):
                    refs = tuple(
                        EventRef(res.first_seq + i, env.event_type, env.event_id)
                        for i, env in enumerate(envelopes[t.subject])
                    )
                    t.repo.advance(t.aggregate_id, s, ctx, evs, refs, envelopes[t.subject])
                    outcomes[t.subject] = Outcome(t.aggregate_id, res.last_seq, refs)
                return [
                    outcomes.get(t.subject) or Outcome(t.aggregate_id, s.version, ())
                    for t, s in zip(targets, snaps, strict=True)
                ]
        names = ", ".join(f"{t.repo.aggregate} {t.aggregate_id}" for t in targets)
        raise Rejected(
            "concurrency_conflict",
            f"{names} kept changing under {retries + 1} attempts; send the command again",
        )


async def _snapshots(targets: list[Target], *, first: bool) -> tuple[list[Snapshot[Any]], bool]:
    """Each target's state, and whether any came from this process's cache without asking the
    log. The first attempt trusts the cache: appends are guarded by the expected version, so a
    stale snapshot costs a conflict and a reload, and a refusal or a no-op decided on a cached
    state is checked against the log before it is answered. Later attempts read the log."""
    snaps: list[Snapshot[Any] | None] = [t.repo.cached(t.aggregate_id) if first else None for t in targets]
    missing = [i for i, s in enumerate(snaps) if s is None]
    loads = [(t := targets[i]).repo.load(t.aggregate_id, assume_new=t.new and first) for i in missing]
    # one load is the common case: no gather then (a task per load costs CPU)
    fresh = [await loads[0]] if len(loads) == 1 else list(await asyncio.gather(*loads))
    for i, snap in zip(missing, fresh, strict=True):
        snaps[i] = snap
    return [s for s in snaps if s is not None], len(missing) < len(targets)


def _recorded(target: Target, snap: Snapshot[Any], ctx: CommandContext) -> Outcome:
    done = snap.commands.get(ctx.command_id, ())
    return Outcome(target.aggregate_id, done[-1].seq if done else snap.version, done, duplicate=True)
