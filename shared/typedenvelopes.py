"""Envelopes read in one pass of pydantic's JSON parser, payload included.

The general path (:func:`shared.upcast.read_envelope`, then :func:`shared.upcast.read_event`)
parses the body into an envelope with a ``dict`` payload and validates that dict again as the event
model: about four times the cost of one pass through a union of typed envelopes keyed by
``event_type`` (a tagged union: the tag picks the payload model, nothing is parsed twice). The
typed pass validates the same (the whole envelope, the payload against its current model), so it is
only cheaper, not more lenient; anything it does not take (an older version to upcast, a newer one,
a type it does not know, poison) is for the general path, which also words the reason. Used by
reporting's projection (services/reporting/decoding.py) and dispatch's facts (services/dispatch/facts.py).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, ValidationError, create_model

from shared.envelope import Envelope
from shared.events import CATALOGUE, Event, load_all


def _variant(event_type: str, typed: bool) -> type[Envelope]:
    """An envelope whose ``event_type`` is exactly this one, with its payload typed (or left as a
    dict: a type the reader takes no figures from)."""
    model = CATALOGUE[event_type]
    data: Any = model if typed else dict[str, Any]
    tag: Any = Literal[event_type]  # a Literal built from the catalogue
    name = f"Envelope_{model.__name__}"
    return create_model(name, __base__=Envelope, event_type=(tag, ...), data=(data, ...))


class TypedEnvelopes:
    """Reads envelopes of ``event_types``; those of ``untyped`` (a subset) keep a ``dict`` payload."""

    def __init__(self, event_types: Collection[str], *, untyped: Collection[str] = ()) -> None:
        load_all()
        self._untyped = frozenset(untyped)
        variants = tuple(_variant(t, t not in self._untyped) for t in sorted(event_types))
        union: Any = Annotated[Union[variants], Field(discriminator="event_type")]  # noqa: UP007
        self.adapter: TypeAdapter[Envelope] = TypeAdapter(union)

    def read(self, raw: bytes) -> tuple[Envelope, Event] | None:
        """The envelope and its event (a typed type, at its current version), or None: the general
        path is to read it (and say why)."""
        try:
            env = self.adapter.validate_json(raw)
        except ValidationError:
            return None
        if env.event_type in self._untyped or env.schema_version != CATALOGUE[env.event_type].schema_version:
            return None  # untyped, an older version (to upcast) or a newer one (refused)
        event: Event = env.data  # type: ignore[assignment]  # the variant typed it
        return env, event
