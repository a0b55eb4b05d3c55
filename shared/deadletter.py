"""The dead-letter stream: what a consumer refuses goes here with the reason, then it carries on."""

from __future__ import annotations

import structlog
from nats.js import JetStreamContext

from shared.envelope import (
    H_DLQ_REASON,
    H_DLQ_SOURCE,
    H_DLQ_STREAM_SEQ,
    H_DLQ_SUBJECT,
    H_MSG_ID,
    dlq_subject,
)
from shared.metrics import DEAD_LETTERS

log = structlog.get_logger(__name__)
MAX_REASON = 1_000


class DeadLetters:
    """Publishes refused messages to ``vhub.dlq.<source>`` (acknowledged by JetStream)."""

    def __init__(self, js: JetStreamContext, *, stream: str, hub: str, source: str) -> None:
        self._js = js
        self._stream = stream
        self._hub = hub
        self.source = source

    async def send(
        self,
        *,
        subject: str,
        payload: bytes,
        reason: str,
        stream_seq: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Record ``payload`` (as received) with why it was refused. Never drops it silently."""
        reason = " ".join(reason.split())[:MAX_REASON]
        out = {k: v for k, v in (headers or {}).items() if k != H_MSG_ID}
        out |= {
            H_DLQ_REASON: reason,
            H_DLQ_SOURCE: self.source,
            H_DLQ_SUBJECT: subject,
        }
        if stream_seq is not None:
            out[H_DLQ_STREAM_SEQ] = str(stream_seq)
            # the same poison message redelivered after a crash is kept once
            out[H_MSG_ID] = f"dlq:{self.source}:{stream_seq}"
        await self._js.publish(dlq_subject(self._hub, self.source), payload, stream=self._stream, headers=out)
        DEAD_LETTERS.labels(self.source).inc()
        log.warning("dead_lettered", source=self.source, subject=subject, seq=stream_seq, reason=reason)
