"""Dispatch's facts from their logged bytes in one pass of pydantic's JSON parser.

The facts projection reads back every event dispatch appends (its bookings count them), so its
decoder runs once per command. The general path (:func:`shared.upcast.read_envelope`, then
:func:`shared.upcast.read_event`) parses the body into an envelope with a ``dict`` payload and
validates that dict again as the event model: about four times the cost of one pass through a
union of typed envelopes keyed by ``event_type`` (the tag picks the payload model). The typed pass
validates the same (the whole envelope, the payload against its current model), so it is only
cheaper; anything it does not take (an older version to upcast, a newer one, a type it does not
know, poison) goes the general path, which also words the reason (as reporting's decoder does:
services/reporting/decoding.py).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, ValidationError, create_model

from shared.envelope import Envelope
from shared.events import CATALOGUE, Event, load_all


def _variant(event_type: str) -> type[Envelope]:
    """An envelope whose ``event_type`` is exactly this one, with its payload typed."""
    model = CATALOGUE[event_type]
    tag: Any = Literal[event_type]  # a Literal built from the catalogue
    return create_model(
        f"Envelope_{model.__name__}", __base__=Envelope, event_type=(tag, ...), data=(model, ...)
    )


class TypedEnvelopes:
    """Reads envelopes of ``event_types`` at their current version, payload included."""

    def __init__(self, event_types: Collection[str]) -> None:
        load_all()
        variants = tuple(_variant(t) for t in sorted(event_types))
        union: Any = Annotated[Union[variants], Field(discriminator="event_type")]  # noqa: UP007
        self._adapter: TypeAdapter[Envelope] = TypeAdapter(union)

    def read(self, raw: bytes) -> tuple[Envelope, Event] | None:
        """The envelope and its event, or None: the general path is to read it (and say why)."""
        try:
            env = self._adapter.validate_json(raw)
        except ValidationError:
            return None
        if env.schema_version != CATALOGUE[env.event_type].schema_version:
            return None  # an older version (to upcast) or a newer one (refused)
        event: Event = env.data  # type: ignore[assignment]  # the variant typed it
        return env, event
