"""Upcasting: old event versions are turned into the current shape on read, in one place.

The log is never rewritten. An upcaster takes the ``data`` of version N and returns version N+1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.envelope import Envelope
from shared.events import CATALOGUE, Event, load_all

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# (event_type, from_version) -> function giving the data at from_version + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UnknownEventError(ValueError):
    """The log holds an event type or version this code cannot read."""


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Decorator: register the step from ``from_version`` to ``from_version + 1``."""

    def register(fn: Upcaster) -> Upcaster:
        UPCASTERS[(event_type, from_version)] = fn
        return fn

    return register


def upcast(event_type: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    """Bring ``data`` from ``version`` up to the catalogue's current version."""
    load_all()
    model = CATALOGUE.get(event_type)
    if model is None:
        raise UnknownEventError(f"unknown event type {event_type!r}")
    if version > model.schema_version:
        raise UnknownEventError(f"{event_type} v{version} is newer than this code (v{model.schema_version})")
    while version < model.schema_version:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise UnknownEventError(f"no upcaster for {event_type} v{version}")
        data = step(data)
        version += 1
    return data


def decode(envelope: Envelope) -> Event:
    """The envelope's payload as the current event model (upcast first, then validated)."""
    data = upcast(envelope.event_type, envelope.schema_version, envelope.data)
    return CATALOGUE[envelope.event_type].model_validate(data)


# -- the upcasters themselves -------------------------------------------------------------------


@upcaster("registry.volunteer_registered", 1)
def _volunteer_registered_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 had no ``skills``; a volunteer recorded then had declared none."""
    return {**data, "skills": data.get("skills", [])}
