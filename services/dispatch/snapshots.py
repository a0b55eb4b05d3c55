"""Snapshots small enough to keep every team's schedule in memory.

:class:`shared.aggregates.Aggregates` keeps, for every command recorded on an aggregate, its events
as ``EventRef`` tuples (sequence, type, event id): about 500 bytes a command, so at campaign scale
(3,500 schedules of ~90 commands each) the ids alone took ~150 MB. :class:`CompactAggregates` keeps
the same answers in about one int per event:

* the event id is derived from (hub, command id, aggregate id, n), exactly as
  ``Aggregates.envelope`` makes it; this is checked when a snapshot is made, and an id made any
  other way is kept as it is;
* the event type is an index into a table of the few event types seen.

A retried command therefore still gets its first answer (the same sequences, types and ids), and
loading, deciding and appending work as in :mod:`shared.aggregates`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TypeVar, cast

from shared.aggregates import Aggregates, CommandContext, EventRef, Snapshot
from shared.envelope import derive_id
from shared.events import Event
from shared.upcast import decode

S = TypeVar("S")
Refs = tuple[EventRef, ...]
# one event: seq << TYPE_BITS | type code; several: a tuple of those; an id not derived: the refs
Packed = int | tuple[int, ...] | Refs
TYPE_BITS = 6
_TYPES: list[str] = []
_TYPE_CODES: dict[str, int] = {}


def _type_code(event_type: str) -> int | None:
    code = _TYPE_CODES.get(event_type)
    if code is None and len(_TYPES) < 1 << TYPE_BITS:
        code = _TYPE_CODES[event_type] = len(_TYPES)
        _TYPES.append(event_type)
    return code


class CommandIndex(Mapping[str, Refs]):
    """The commands recorded on one aggregate (command id → its events there), packed. Immutable."""

    __slots__ = ("_aggregate_id", "_hub", "_packed")

    def __init__(self, hub: str, aggregate_id: str, packed: dict[str, Packed] | None = None) -> None:
        self._hub = hub
        self._aggregate_id = aggregate_id
        self._packed: dict[str, Packed] = packed or {}

    def __getitem__(self, command_id: str) -> Refs:
        return self._unpack(command_id, self._packed[command_id])

    def __contains__(self, command_id: object) -> bool:
        return command_id in self._packed

    def __iter__(self) -> Iterator[str]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)

    def with_commands(self, added: Mapping[str, Refs], *, append: bool) -> CommandIndex:
        """A copy with ``added``; ``append``: after the events a command already has here."""
        packed = dict(self._packed)
        for command_id, refs in added.items():
            if append and command_id in packed:
                refs = (*self[command_id], *refs)
            packed[command_id] = self._pack(command_id, refs)
        return CommandIndex(self._hub, self._aggregate_id, packed)

    def _event_id(self, command_id: str, n: int) -> str:
        return derive_id(self._hub, command_id, self._aggregate_id, str(n))

    def _pack(self, command_id: str, refs: Refs) -> Packed:
        out: list[int] = []
        for n, ref in enumerate(refs):
            code = _type_code(ref.event_type)
            if code is None or ref.event_id != self._event_id(command_id, n):
                return refs
            out.append(ref.seq << TYPE_BITS | code)
        return out[0] if len(out) == 1 else tuple(out)

    def _unpack(self, command_id: str, packed: Packed) -> Refs:
        if isinstance(packed, int):
            packed = (packed,)
        if packed and not isinstance(packed[0], int):
            return cast(Refs, packed)
        return tuple(
            EventRef(p >> TYPE_BITS, _TYPES[p & ((1 << TYPE_BITS) - 1)], self._event_id(command_id, n))
            for n, p in enumerate(cast(tuple[int, ...], packed))
        )


class CompactAggregates(Aggregates[S]):
    """:class:`Aggregates` whose cached snapshots keep their command ids as a :class:`CommandIndex`."""

    def _commands(self, aggregate_id: str, snap: Snapshot[S]) -> CommandIndex:
        if isinstance(snap.commands, CommandIndex):
            return snap.commands
        return CommandIndex(self.store.hub, aggregate_id).with_commands(snap.commands, append=False)

    def _snapshot(self, state: S, version: int, commands: CommandIndex) -> Snapshot[S]:
        # Snapshot declares a dict; the repository and shared.transaction only look commands up
        # (``in``, ``get``), which a Mapping answers the same way.
        return Snapshot(state, version, cast(dict[str, Refs], commands))

    async def load(self, aggregate_id: str, *, assume_new: bool = False) -> Snapshot[S]:
        subject = self.subject(aggregate_id)
        snap = self._cache.get(subject)
        if snap is None:
            snap = self._snapshot(self._initial(), 0, CommandIndex(self.store.hub, aggregate_id))
        if assume_new and snap.version == 0:
            return snap
        newer = await self.store.read(subject, after_seq=snap.version)
        if newer:
            state = snap.state
            added: dict[str, Refs] = {}
            for rec in newer:
                env = rec.envelope
                state = self._evolve(state, decode(env))
                ref = EventRef(rec.seq, env.event_type, env.event_id)
                added[env.command_id] = (*added.get(env.command_id, ()), ref)
            commands = self._commands(aggregate_id, snap).with_commands(added, append=True)
            snap = self._snapshot(state, newer[-1].seq, commands)
        self._remember(subject, snap)
        return snap

    def advance(
        self,
        aggregate_id: str,
        snap: Snapshot[S],
        ctx: CommandContext,
        events: list[Event],
        refs: tuple[EventRef, ...],
    ) -> None:
        state = snap.state
        for ev in events:
            state = self._evolve(state, ev)
        commands = self._commands(aggregate_id, snap).with_commands({ctx.command_id: refs}, append=False)
        self._remember(self.subject(aggregate_id), self._snapshot(state, refs[-1].seq, commands))
