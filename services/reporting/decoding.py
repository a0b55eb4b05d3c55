"""JetStream message → :class:`Item`, or the reason it cannot be read.

Fast path: the ``Vhub-Event-Type``/``Vhub-Schema-Version`` headers name the payload's model, so an
event at the current version is parsed once, straight into a typed envelope (about half the cost
of envelope-then-payload). Anything else (older versions to upcast, headers that disagree with the
body, poison) takes the general path through :func:`shared.upcast.decode`, which also words the
dead-letter reason.
"""

from __future__ import annotations

from functools import cache

from nats.aio.msg import Msg
from pydantic import ValidationError, create_model

from services.reporting.projections.fold import HANDLERS
from services.reporting.store import Item
from shared.envelope import H_EVENT_TYPE, H_SCHEMA_VERSION, Envelope
from shared.events import CATALOGUE, load_all
from shared.upcast import UnknownEventError, decode

load_all()
# Event types the projection reads nothing from: not worth validating (about 15% of the log).
IRRELEVANT = {t: model.schema_version for t, model in CATALOGUE.items() if model not in HANDLERS}


@cache
def _typed_envelope(event_type: str) -> type[Envelope]:
    model = CATALOGUE[event_type]
    return create_model(f"Envelope_{model.__name__}", __base__=Envelope, data=(model, ...))


for _type in CATALOGUE:  # build the typed envelopes now, not during the first batch
    if _type not in IRRELEVANT:
        _typed_envelope(_type)


def decode_msg(msg: Msg) -> tuple[Item, str | None]:
    """The message as an item, and the reason it cannot be read (None when it can)."""
    seq = msg.metadata.sequence.stream
    headers = msg.headers or {}
    event_type = headers.get(H_EVENT_TYPE, "")
    model = CATALOGUE.get(event_type)
    version = str(model.schema_version) if model is not None else None
    if model is not None and headers.get(H_SCHEMA_VERSION) == version and event_type not in IRRELEVANT:
        try:
            typed = _typed_envelope(event_type).model_validate_json(msg.data)
        except ValidationError:
            pass  # the general path says why
        else:
            if typed.event_type == event_type and typed.schema_version == model.schema_version:
                return Item(seq, typed.data, typed.recorded_at), None  # type: ignore[arg-type]  # data is the event model here
    return _decode_general(seq, msg.data)


def _decode_general(seq: int, raw: bytes) -> tuple[Item, str | None]:
    try:
        envelope = Envelope.from_bytes(raw)
    except ValidationError as err:
        return Item(seq, None, None), f"undecodable envelope: {_first_error(err)}"
    known = IRRELEVANT.get(envelope.event_type)
    if known is not None and envelope.schema_version <= known:
        return Item(seq, None, envelope.recorded_at, ignored=True), None  # known, counts nothing
    try:
        return Item(seq, decode(envelope), envelope.recorded_at), None
    except UnknownEventError as err:
        return Item(seq, None, envelope.recorded_at), str(err)
    except ValidationError as err:
        reason = f"invalid {envelope.event_type} v{envelope.schema_version}: {_first_error(err)}"
        return Item(seq, None, envelope.recorded_at), reason


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']} ({err.error_count()} errors)"
