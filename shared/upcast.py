"""Upcasting: old event versions are turned into the current shape on read, in one place.

The log is never rewritten. An upcaster takes the ``data`` of version N and returns version N+1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from shared.envelope import Envelope
from shared.events import CATALOGUE, Event, load_all

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# (event_type, from_version) -> function giving the data at from_version + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UnknownEventError(ValueError):
    """The log holds an event type or version this code cannot read."""


class PoisonEventError(ValueError):
    """A logged message that cannot be read as an event; ``reason`` says why without quoting it.

    ``envelope`` is set when the envelope was readable and only its payload was not."""

    def __init__(self, reason: str, envelope: Envelope | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.envelope = envelope


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


def read_envelope(raw: bytes) -> Envelope:
    """``raw`` as an envelope; :class:`PoisonEventError` when it is not one.

    pydantic's own JSON parser reads it: it refuses nesting deeper than its recursion limit with a
    ``ValidationError`` (never a ``RecursionError``), and a logged message is bounded by the
    server's ``max_payload``, so this entry point is bounded in depth and size."""
    try:
        return Envelope.from_bytes(raw)
    except ValidationError as err:
        raise PoisonEventError(f"undecodable envelope: {describe(err)}") from None


def read_event(envelope: Envelope) -> Event:
    """The envelope's payload upcast and validated; :class:`PoisonEventError` with the reason."""
    try:
        return decode(envelope)
    except UnknownEventError as err:
        raise PoisonEventError(str(err), envelope) from None
    except ValidationError as err:
        reason = f"invalid {envelope.event_type} v{envelope.schema_version}: {describe(err)}"
        raise PoisonEventError(reason, envelope) from None


def describe(err: ValidationError) -> str:
    """The first error's location and message, and the count: never the offending input."""
    first = err.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']} ({err.error_count()} errors)"


# -- the upcasters themselves -------------------------------------------------------------------
# Not here on purpose: rotations. ``dispatch.team_rotation_planned`` (one event a rotation) is a new
# type, not a version of ``dispatch.team_dispatched``; the old form of a rotation (one
# ``team_dispatched`` a day in one batch) is made of valid current events and is read as it is
# (``shared.events.dispatch.shift_facts``). An upcaster sees one event, so it could not merge a
# batch anyway.


@upcaster("registry.volunteer_registered", 1)
def _volunteer_registered_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 had no ``skills``; a volunteer recorded then had declared none."""
    return {**data, "skills": data.get("skills", [])}


@upcaster("registry.volunteer_registered", 2)
def _volunteer_registered_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """v2 held personal fields in plaintext, unsealed and without pseudonyms (the registry
    derives them from the plaintext); consent then was the adult's own."""
    return data


@upcaster("registry.volunteer_updated", 1)
def _volunteer_updated_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 held changed personal fields in plaintext; v2's new fields default to unsealed."""
    return data
