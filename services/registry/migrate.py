"""Migrating a log written before sealing: a re-encrypting copy into a new stream
(``vhub pii migrate``; docs/operating.md says how an operator swaps it in).

The log is never rewritten in place (its stream denies deletes and purges, and central and every
backup hold copies). The migration reads the old stream in order and appends each message, with
its headers and Msg-Id, to a new stream whose input subjects are ``vhub.migrate.<hub>.>``,
transformed on the way in to the original ``vhub.evt.<hub>.>`` subject: so the copy has the same
subjects, order and sequences. Plaintext volunteer events (``volunteer_registered`` v1/v2,
``volunteer_updated`` v1) are upcast and sealed under a data key created for their volunteer;
those of a volunteer erased later in the log lose their personal fields instead. Everything else
is copied byte for byte. Run it with the registry stopped: the copy is of one moment.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import StreamConfig, SubjectTransform

from services.registry.erasures import scan
from services.registry.sealing import SEALED_TYPES, PersonalCodec
from shared.envelope import H_EVENT_TYPE, H_SCHEMA_VERSION, Envelope, event_subject
from shared.events import CATALOGUE
from shared.events.registry import CONTEXT, PERSONAL_FIELDS, VolunteerErased
from shared.upcast import decode

MIGRATE_PREFIX = "vhub.migrate"


@dataclass(frozen=True)
class Migrated:
    copied: int
    sealed: int
    stripped: int  # plaintext of erased volunteers dropped
    last_seq: int


def target_config(source: StreamConfig, name: str, hub: str) -> StreamConfig:
    """The source's settings under a new name, taking ``vhub.migrate.<hub>.>`` as ``vhub.evt.<hub>.>``."""
    incoming = f"{MIGRATE_PREFIX}.{hub}.>"
    config: StreamConfig = StreamConfig.from_response(
        {
            **source.as_dict(),
            "name": name,
            "subjects": [incoming],
            "subject_transform": SubjectTransform(src=incoming, dest=f"vhub.evt.{hub}.>").as_dict(),
            "description": f"{source.description or ''} (sealed copy)".strip(),
        }
    )
    return config


async def migrate(
    js: JetStreamContext, codec: PersonalCodec, *, hub: str, source: str, target: str
) -> Migrated:
    info = await js.stream_info(source)
    await js.add_stream(target_config(info.config, target, hub))
    erased = {
        str(Envelope.from_bytes(m.data or b"").aggregate_id)
        async for m in scan(js, source, event_subject(hub, CONTEXT, "volunteer", "*"))
        if (m.headers or {}).get(H_EVENT_TYPE) == VolunteerErased.event_type
    }
    copied = sealed = stripped = last = 0
    prefix = f"vhub.evt.{hub}."
    async for msg in scan(js, source):
        subject = msg.subject or ""
        if not subject.startswith(prefix):
            raise ValueError(f"{source} holds {subject}, not an event of hub {hub}")
        headers = {k: v for k, v in (msg.headers or {}).items() if not k.startswith("Nats-Expected")}
        data = msg.data or b""
        env = Envelope.from_bytes(data)
        model = CATALOGUE.get(env.event_type)
        if model in SEALED_TYPES and env.schema_version < model.schema_version:
            ev = decode(env)
            if env.aggregate_id in erased:
                out = ev.model_dump(mode="json") | dict.fromkeys(PERSONAL_FIELDS)
                stripped += 1
            else:
                await codec.keys.create(env.aggregate_id)
                out = codec.data(env.aggregate_id, ev)
                sealed += 1
            data = env.model_copy(update={"schema_version": model.schema_version, "data": out}).to_bytes()
            headers[H_SCHEMA_VERSION] = str(model.schema_version)
        ack = await js.publish(
            f"{MIGRATE_PREFIX}.{hub}.{subject.removeprefix(prefix)}", data, stream=target, headers=headers
        )
        if ack.seq != msg.seq:
            raise RuntimeError(f"copy out of step: source seq {msg.seq} landed at {ack.seq}")
        copied, last = copied + 1, ack.seq
    return Migrated(copied, sealed, stripped, last)
