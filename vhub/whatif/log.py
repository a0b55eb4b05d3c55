"""Read a hub's log into a what-if :class:`History`: ephemeral filtered consumers, no acks.

Only team, service point and campaign subjects of the registry and every dispatch subject are
delivered (never a volunteer subject: no personal data reaches the replay). One consumer per
filter subject, merged by stream sequence: a single consumer with several filter subjects was
seen to stall (partial batches held until their expiry, nats-server 2.15.1). The read takes what
each consumer had pending when it was made, so it ends on a busy stream too. Nothing is
published: the consumers are the only server state made, and they are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import heapq

import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext

from services.dispatch.domain.history import FOLDED, History
from shared.envelope import H_EVENT_TYPE, Envelope, event_subject
from shared.events import Event
from shared.reader import StreamReader
from shared.upcast import UnknownEventError, decode

log = structlog.get_logger(__name__)
Positioned = tuple[int, Event]


class ReadStalledError(RuntimeError):
    """The server stopped delivering before a consumer's pending messages were read."""


def filter_subjects(hub: str) -> list[str]:
    """The subjects a replay reads; ``hub`` may be ``*`` (a central stream holds every hub's)."""
    return [
        event_subject(hub, "registry", "team", "*"),
        event_subject(hub, "registry", "service_point", "*"),
        event_subject(hub, "registry", "campaign", "*"),
        f"vhub.evt.{hub}.dispatch.>",
    ]


async def read_history(nc: Client, stream: str, hub: str, *, batch: int = 1_000) -> History:
    """Fold the log of ``stream``, as it stands now, into a fresh :class:`History`."""
    js = nc.jetstream()
    last = (await js.stream_info(stream)).state.last_seq
    parts = await asyncio.gather(*(_read(js, stream, s, last, batch) for s in filter_subjects(hub)))
    history = History()
    for seq, event in heapq.merge(*parts, key=lambda p: p[0]):
        history.apply(seq, event)
    history.position = max(history.position, last)
    return history


async def _read(js: JetStreamContext, stream: str, subject: str, last: int, batch: int) -> list[Positioned]:
    reader = StreamReader(js, stream=stream, filter_subject=subject, batch=batch)
    await reader.start()
    out: list[Positioned] = []
    try:
        due = (await js.consumer_info(stream, reader.consumer)).num_pending
        seen = 0
        while seen < due:
            msgs = await reader.take(wait_s=30.0)
            if not msgs:
                raise ReadStalledError(f"{subject}: {seen} of {due} messages read, then nothing for 30 s")
            seen += len(msgs)
            for msg in msgs:
                seq = msg.metadata.sequence.stream
                kind = (msg.headers or {}).get(H_EVENT_TYPE)
                if seq > last or (kind is not None and kind not in FOLDED):
                    continue  # appended after the read began, or nothing here needs it (check-ins…)
                try:
                    out.append((seq, decode(Envelope.from_bytes(msg.data))))
                except (UnknownEventError, ValueError) as err:
                    # reporting dead-letters such an event and counts nothing of it: so does this
                    log.warning("replay_event_skipped", seq=seq, error=type(err).__name__)
    finally:
        await reader.close()
    return out
