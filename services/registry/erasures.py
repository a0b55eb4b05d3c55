"""Reading the log for the operator's privacy tools: the erasure report (what was erased, when,
why, and whether the key is gone) and the stream scan the migration uses. Never personal data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from services.registry.keystore import KeyStore
from shared.envelope import H_EVENT_TYPE, Envelope, event_subject
from shared.events.registry import CONTEXT, VolunteerErased


async def scan(
    js: JetStreamContext, stream: str, subject: str = ">", after: int = 0
) -> AsyncIterator[RawStreamMsg]:
    """Every message of ``stream`` on ``subject`` (wildcards allowed) after sequence ``after``, in order."""
    seq = after + 1
    while True:
        try:
            msg = await js.get_msg(stream, seq=seq, subject=subject, next=True)
        except NotFoundError:
            return
        assert msg.seq is not None
        yield msg
        seq = msg.seq + 1


@dataclass(frozen=True)
class Erasure:
    volunteer_id: str
    reason: str
    erased_at: str
    seq: int
    command_id: str
    actor: str
    key_deleted: bool

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


async def erasure_report(js: JetStreamContext, stream: str, hub: str, keys: KeyStore) -> list[Erasure]:
    """Every ``VolunteerErased`` of the hub's log, oldest first, with whether its key is gone."""
    out: list[Erasure] = []
    async for msg in scan(js, stream, event_subject(hub, CONTEXT, "volunteer", "*")):
        if (msg.headers or {}).get(H_EVENT_TYPE, VolunteerErased.event_type) != VolunteerErased.event_type:
            continue
        env = Envelope.from_bytes(msg.data or b"")
        if env.event_type != VolunteerErased.event_type:
            continue
        vid = str(env.data["volunteer_id"])
        out.append(
            Erasure(
                volunteer_id=vid,
                reason=str(env.data["reason"]),
                erased_at=env.recorded_at.isoformat(),
                seq=msg.seq or 0,
                command_id=env.command_id,
                actor=env.actor,
                key_deleted=await keys.get(str(env.data.get("key_id") or vid)) is None,
            )
        )
    return out
