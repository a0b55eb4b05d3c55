"""The decide/evolve protocol: aggregates are pure functions over frozen state.

``decide(state, command) -> list[Event]`` refuses by raising :class:`Rejected`;
``evolve(state, event) -> state`` never refuses (the log is the truth); :func:`fold` applies a
history (the repositories' loads and their snapshots after an append both use it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from shared.events import Event

S = TypeVar("S")


class Rejected(Exception):
    """A command refused by a rule: a machine-readable code and a human reason."""

    def __init__(self, code: str, reason: str, **details: object) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.details = details


def fold(evolve_fn: EvolveFn[S], state: S, events: Iterable[Event]) -> S:
    """Apply ``events`` to ``state`` in order."""
    for ev in events:
        state = evolve_fn(state, ev)
    return state


class EvolveFn(Protocol[S]):
    def __call__(self, state: S, event: Event, /) -> S: ...
