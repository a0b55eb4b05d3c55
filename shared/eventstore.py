"""The JetStream event store: the only module that reads or appends events.

* ``append`` publishes a command's events with ``Nats-Expected-Last-Subject-Sequence`` (optimistic
  concurrency) and ``Nats-Msg-Id = <hub>:<command id>:<n>`` (dedup). Two or more events go as one
  atomic batch (ADR-50, ``allow_atomic``), so a command is recorded whole or not at all.
* The lost-ack trap (FACTS.md): since server 2.12 the sequence check runs before dedup, so resending a
  publish whose ack was lost gets 10071 ("wrong last sequence") or, for a batch, 10201 ("duplicate
  message id"). On either, the store reads the subject's last message: if it carries this command's
  last Msg-Id, the append had in fact succeeded and is reported as such.
* ``read`` folds a subject's history with direct gets (``next_by_subj``), from any sequence, so a
  cached snapshot only needs what came after it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import nats.errors
import structlog
from nats.aio.client import Client
from nats.js.api import Header
from nats.js.errors import APIError, NotFoundError

from shared.envelope import (
    H_EXPECTED_LAST_SUBJECT_SEQ,
    H_MSG_ID,
    Envelope,
    Recorded,
    msg_id,
)

log = structlog.get_logger(__name__)

ERR_WRONG_LAST_SEQUENCE = 10071
ERR_BATCH_DUPLICATE_MSG_ID = 10201


class ConcurrencyConflictError(Exception):
    """Another writer appended to the subject since we read it."""

    def __init__(self, subject: str, expected: int, detail: str) -> None:
        super().__init__(f"{subject}: expected last seq {expected}: {detail}")
        self.subject = subject
        self.expected = expected


class AppendFailedError(Exception):
    """The server did not confirm the append after every retry; the outcome is unknown."""


@dataclass(frozen=True)
class AppendResult:
    first_seq: int
    last_seq: int
    duplicate: bool  # the log already held these events (a resend); nothing new was written


class EventStore:
    """Append to and read from one hub's event stream."""

    def __init__(
        self,
        nc: Client,
        *,
        stream: str,
        hub: str,
        publish_timeout: float = 5.0,
        publish_attempts: int = 3,
    ) -> None:
        self._nc = nc
        self._js = nc.jetstream(timeout=publish_timeout)
        self.stream = stream
        self.hub = hub
        self._timeout = publish_timeout
        self._attempts = publish_attempts

    # -- reading -------------------------------------------------------------------------------

    async def read(self, subject: str, after_seq: int = 0) -> list[Recorded]:
        """Every event on ``subject`` with a stream sequence above ``after_seq``, in order."""
        out: list[Recorded] = []
        seq = after_seq + 1
        while True:
            try:
                raw = await self._js.get_msg(
                    self.stream, seq=seq, subject=subject, next=True, direct=True
                )
            except NotFoundError:
                return out
            assert raw.seq is not None
            assert raw.data is not None
            out.append(Recorded(subject=subject, seq=raw.seq, envelope=Envelope.from_bytes(raw.data)))
            seq = raw.seq + 1

    async def last(self, subject: str) -> tuple[Recorded, dict[str, str]] | None:
        """The subject's last event and its headers, or None when the subject is empty."""
        try:
            raw = await self._js.get_last_msg(self.stream, subject, direct=True)
        except NotFoundError:
            return None
        assert raw.seq is not None
        assert raw.data is not None
        rec = Recorded(subject=subject, seq=raw.seq, envelope=Envelope.from_bytes(raw.data))
        return rec, dict(raw.headers or {})

    # -- appending -----------------------------------------------------------------------------

    async def append(self, subject: str, events: list[Envelope], expected: int) -> AppendResult:
        """Append ``events`` (all of one command) if the subject's last sequence is ``expected``.

        Raises :class:`ConcurrencyConflictError` when another writer got there first, and
        :class:`AppendFailedError` when the server never answered.
        """
        if not events:
            raise ValueError("nothing to append")
        keys = {(e.command_id, e.aggregate_id) for e in events}
        if len(keys) != 1:
            raise ValueError("one append records one command's events on one aggregate")
        command_id, aggregate_id = keys.pop()
        ids = [msg_id(self.hub, command_id, aggregate_id, n) for n in range(len(events))]
        timed_out = False
        for attempt in range(1, self._attempts + 1):
            try:
                if len(events) == 1:
                    ack = await self._publish_one(subject, events[0], ids[0], expected)
                else:
                    ack = await self._publish_batch(subject, events, ids, expected)
            except (TimeoutError, nats.errors.TimeoutError):
                timed_out = True
                log.warning("append_timeout", subject=subject, attempt=attempt)
                continue
            except APIError as err:
                if err.err_code in (ERR_WRONG_LAST_SEQUENCE, ERR_BATCH_DUPLICATE_MSG_ID):
                    mine = await self._already_recorded(subject, ids[-1])
                    if mine is not None:
                        log.info("append_lost_ack_recovered", subject=subject, timed_out=timed_out)
                        return AppendResult(mine - len(events) + 1, mine, duplicate=True)
                    raise ConcurrencyConflictError(subject, expected, str(err.description)) from err
                raise
            return ack
        raise AppendFailedError(f"{subject}: no answer after {self._attempts} attempts")

    async def _publish_one(
        self, subject: str, event: Envelope, mid: str, expected: int
    ) -> AppendResult:
        headers = {
            **event.headers(),
            H_MSG_ID: mid,
            H_EXPECTED_LAST_SUBJECT_SEQ: str(expected),
        }
        ack = await self._js.publish(
            subject, event.to_bytes(), timeout=self._timeout, stream=self.stream, headers=headers
        )
        return AppendResult(ack.seq, ack.seq, duplicate=bool(ack.duplicate))

    async def _publish_batch(
        self, subject: str, events: list[Envelope], ids: list[str], expected: int
    ) -> AppendResult:
        batch_id = uuid.uuid4().hex
        last = len(events)
        for n, (event, mid) in enumerate(zip(events, ids, strict=True), start=1):
            headers = {
                **event.headers(),
                H_MSG_ID: mid,
                Header.BATCH_ID: batch_id,
                Header.BATCH_SEQUENCE: str(n),
            }
            if n == 1:
                headers[H_EXPECTED_LAST_SUBJECT_SEQ] = str(expected)
            if n < last:
                await self._nc.publish(subject, event.to_bytes(), headers=headers)
                continue
            headers[Header.BATCH_COMMIT] = "1"
            reply = await self._nc.request(
                subject, event.to_bytes(), timeout=self._timeout, headers=headers
            )
            resp = json.loads(reply.data)
            if "error" in resp:
                raise APIError.from_error(resp["error"])
            seq = int(resp["seq"])
            return AppendResult(seq - last + 1, seq, duplicate=False)
        raise AssertionError("unreachable")

    async def _already_recorded(self, subject: str, last_msg_id: str) -> int | None:
        """The stream seq of ``last_msg_id`` if it is the subject's last message, else None."""
        for _ in range(3):
            try:
                raw = await self._js.get_last_msg(self.stream, subject, direct=True)
            except NotFoundError:
                return None
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            if (raw.headers or {}).get(H_MSG_ID) == last_msg_id:
                return raw.seq
            return None
        return None
