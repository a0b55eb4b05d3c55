"""JetStream message → :class:`Item`, or the reason it cannot be read.

Fast path: one pass of pydantic's JSON parser over the body, through a union of typed envelopes
keyed by ``event_type`` (shared/typedenvelopes.py: the tag picks the payload model, nothing is
parsed twice, and no ``dict`` of the payload is built on the way). It validates exactly what the
general path validates (the whole envelope, the payload against its event model), so it is only
cheaper, not more lenient. Events no figure depends on are recognised by the same pass and not read further.
Anything else (older versions to upcast, unknown types, poison) takes the general path through
:func:`shared.upcast.decode`, which also words the dead-letter reason. Headers are not needed: the
body names its type.

:func:`decode_bytes` is the live projection's decoder in :class:`shared.projection.ProjectionRunner`
and the rebuild's; :func:`decode_msg` reads the sequence from the reply subject
(:func:`shared.delivery.stream_seq`).
"""

from __future__ import annotations

from nats.aio.msg import Msg
from pydantic import ValidationError

from services.reporting.projections.fold import HANDLERS
from services.reporting.store import Item
from shared.delivery import stream_seq
from shared.envelope import Envelope
from shared.events import CATALOGUE, Event, load_all
from shared.typedenvelopes import TypedEnvelopes
from shared.upcast import PoisonEventError, read_envelope, read_event

load_all()
# Event types the projection reads nothing from: not worth validating (about 15% of the log).
IRRELEVANT = {t: model.schema_version for t, model in CATALOGUE.items() if model not in HANDLERS}


_TYPED = TypedEnvelopes(CATALOGUE, untyped=IRRELEVANT)  # shared/typedenvelopes.py


def decode_msg(msg: Msg) -> tuple[Item, str | None]:
    """The message as an item, and the reason it cannot be read (None when it can)."""
    return decode_bytes(stream_seq(msg), msg.data)


def decode_bytes(seq: int, raw: bytes) -> tuple[Item, str | None]:
    """``raw`` (an envelope at stream sequence ``seq``) as an item, or the reason it is poison."""
    try:
        env = _TYPED.adapter.validate_json(raw)
    except ValidationError:
        return _decode_general(seq, raw)  # unknown type, older version's shape, or poison: says why
    known = IRRELEVANT.get(env.event_type)
    if known is not None:
        if env.schema_version <= known:
            return Item(seq, None, env.recorded_at, True, env.hub), None
    elif env.schema_version == CATALOGUE[env.event_type].schema_version:
        event: Event = env.data  # type: ignore[assignment]  # the variant typed it
        return Item(seq, event, env.recorded_at, False, env.hub), None
    return _decode_general(seq, raw)  # an older version (upcast) or a newer one (refused)


def typed_event(raw: bytes) -> tuple[Envelope, Event] | None:
    """The envelope and its event in the one typed pass, when that pass reads it (a type the
    projection reads, at its current version); None: the general path is to read it."""
    return _TYPED.read(raw)


def _decode_general(seq: int, raw: bytes) -> tuple[Item, str | None]:
    try:
        envelope = read_envelope(raw)
    except PoisonEventError as err:
        return Item(seq, None, None), err.reason
    known = IRRELEVANT.get(envelope.event_type)
    if known is not None and envelope.schema_version <= known:
        return Item(seq, None, envelope.recorded_at, True, envelope.hub), None  # counts nothing
    try:
        return Item(seq, read_event(envelope), envelope.recorded_at, False, envelope.hub), None
    except PoisonEventError as err:
        return Item(seq, None, envelope.recorded_at, False, envelope.hub), err.reason
