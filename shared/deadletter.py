"""The dead-letter stream: what a consumer refuses goes here with the reason, then it carries on.

A dead letter always fits the server's ``max_payload`` (a publish over it gets ``-ERR`` and the
server closes the connection): the original body is kept whole up to :data:`MAX_BODY` bytes, and a
longer one is **truncated** to a prefix, with its original size (``Vhub-Dlq-Truncated``) and sha256
digest (``Vhub-Dlq-Body-Sha256``). Truncation rather than a reference: an ingest stream is a work
queue, so the original is gone once acknowledged, and nothing a service would need to re-read a
refused fact larger than any valid one. ``vhub dlq replay`` must refuse a truncated letter.

Headers are bounded too: the original's are copied (replay re-publishes them) except the server's
own ``Nats-*`` control headers (a copied ``Nats-Msg-Id`` or expected-sequence header would steer
the dead letter's own publish) and values over :data:`MAX_HEADER_VALUE`; the reason is at most
:data:`MAX_REASON` characters, with a low-cardinality code beside it (``Vhub-Dlq-Code``).
"""

from __future__ import annotations

import hashlib
import re

import structlog
from nats.js import JetStreamContext

from shared.envelope import (
    H_DLQ_BODY_SHA256,
    H_DLQ_CODE,
    H_DLQ_REASON,
    H_DLQ_SOURCE,
    H_DLQ_STREAM_SEQ,
    H_DLQ_SUBJECT,
    H_DLQ_TRUNCATED,
    H_MSG_ID,
    dlq_subject,
)
from shared.metrics import DEAD_LETTERS

log = structlog.get_logger(__name__)
MAX_REASON = 1_000
MAX_BODY = 64 * 1024  # the largest valid ingest fact is a few hundred bytes
MAX_HEADER_VALUE = 1_024
MAX_COPIED_HEADERS = 8 * 1024  # bytes of original headers kept, in their order
_MARGIN = 1_024  # the protocol's own framing, and the server's view of sizes, with room to spare
_CODE = re.compile(r"([a-z][a-z_]*): ")
_EVENT_CODES = (
    ("undecodable envelope", "undecodable"),
    ("unknown event type", "unknown_event"),
    ("no upcaster", "unknown_event"),
    ("invalid ", "invalid_event"),
)


def reason_code(reason: str) -> str:
    """A low-cardinality code for a reason: its ``code: ...`` prefix, or the kind of poison event."""
    match = _CODE.match(reason)
    if match:
        return match.group(1)
    for prefix, code in _EVENT_CODES:
        if reason.startswith(prefix):
            return code
    return "unknown_event" if " is newer than this code" in reason else "refused"


def header_size(headers: dict[str, str]) -> int:
    """Bytes the headers take on the wire (``NATS/1.0`` line, ``name: value`` lines, blank line)."""
    return 12 + sum(len(k.encode()) + len(v.encode()) + 4 for k, v in headers.items())


class DeadLetters:
    """Publishes refused messages to ``vhub.dlq.<source>`` (acknowledged by JetStream)."""

    def __init__(self, js: JetStreamContext, *, stream: str, hub: str, source: str) -> None:
        self._js = js
        self._stream = stream
        self._hub = hub
        self.source = source

    def _max_payload(self) -> int:
        # the server's limit, from its INFO (nats-py keeps the context's client private; shared/
        # is where that is allowed); 1 MiB, the server's default, when it is not known
        client = getattr(self._js, "_nc", None)
        return int(getattr(client, "max_payload", 0) or 1024 * 1024)

    async def send(
        self,
        *,
        subject: str,
        payload: bytes,
        reason: str,
        stream_seq: int | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        """Record ``payload`` (as received, or its prefix: see the module) with why it was
        refused. Never drops it silently."""
        reason = " ".join(reason.split())[:MAX_REASON]
        code = code or reason_code(reason)
        out = _copied(headers or {})
        out |= {
            H_DLQ_REASON: reason,
            H_DLQ_CODE: code,
            H_DLQ_SOURCE: self.source,
            H_DLQ_SUBJECT: subject[:MAX_HEADER_VALUE],
        }
        if stream_seq is not None:
            out[H_DLQ_STREAM_SEQ] = str(stream_seq)
            # the same poison message redelivered after a crash is kept once
            out[H_MSG_ID] = f"dlq:{self.source}:{stream_seq}"
        room = min(MAX_BODY, self._max_payload() - header_size(out) - 200 - _MARGIN)
        body = payload
        if len(payload) > room:
            out[H_DLQ_TRUNCATED] = str(len(payload))
            out[H_DLQ_BODY_SHA256] = hashlib.sha256(payload).hexdigest()
            body = payload[: max(room, 0)]
        await self._js.publish(dlq_subject(self._hub, self.source), body, stream=self._stream, headers=out)
        DEAD_LETTERS.labels(self.source, code).inc()
        log.warning(
            "dead_lettered",
            source=self.source,
            subject=subject[:200],
            seq=stream_seq,
            code=code,
            reason=reason,
            size=len(payload),
            truncated=body is not payload,
        )


def _copied(headers: dict[str, str]) -> dict[str, str]:
    """The original's headers worth keeping, within :data:`MAX_COPIED_HEADERS` bytes."""
    out: dict[str, str] = {}
    used = 0
    for name, value in headers.items():
        if name.lower().startswith("nats-") or len(value) > MAX_HEADER_VALUE or len(name) > 128:
            continue
        used += len(name) + len(value) + 4
        if used > MAX_COPIED_HEADERS:
            break
        out[name] = value
    return out
