"""Snapshots small enough to keep every team's schedule in memory: a compact command index.

:class:`shared.aggregates.PlainIndex` keeps, for every command recorded on an aggregate, its events
as ``EventRef`` tuples (sequence, type, event id): about 500 bytes a command, so at campaign scale
(3,500 schedules of ~90 commands each) the ids alone took ~150 MB. :class:`CompactIndex` keeps
the same answers in about one int per event, and plugs into the shared repository as its
``index`` (``Aggregates(..., index=CompactIndex)``):

* the event id is derived from (hub, command id, aggregate id, n), exactly as
  ``shared.aggregates.Aggregates.envelope`` makes it; this is checked when a snapshot is made,
  and an id made any other way is kept as it is;
* the event type is an index into a table of the few event types seen.

A retried command therefore still gets its first answer (the same sequences, types and ids), and
loading, deciding and appending are the shared write path's (:mod:`shared.transaction`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import cast

from shared.aggregates import CommandIndex, EventRef, Refs
from shared.envelope import derive_id

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


class CompactIndex(CommandIndex):
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

    def with_commands(self, added: Mapping[str, Refs], *, append: bool) -> CompactIndex:
        """A copy with ``added``; ``append``: after the events a command already has here."""
        packed = dict(self._packed)
        for command_id, refs in added.items():
            if append and command_id in packed:
                refs = (*self[command_id], *refs)
            packed[command_id] = self._pack(command_id, refs)
        return CompactIndex(self._hub, self._aggregate_id, packed)

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
