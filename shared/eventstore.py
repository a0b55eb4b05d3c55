"""The JetStream event store: the only module that reads or appends events.

* ``append``/``append_many`` publish a command's events with ``Nats-Expected-Last-Subject-Sequence``
  (optimistic concurrency, per subject) and ``Nats-Msg-Id = <hub>:<command id>:<aggregate>:<n>``
  (dedup). Two or more events go as one atomic batch (ADR-50, ``allow_atomic``), also across
  several aggregates, so a command is recorded whole or not at all.
* The lost-ack trap (FACTS.md): since server 2.12 the sequence check runs before dedup, so resending a
  publish whose ack was lost gets 10071 ("wrong last sequence") or, for a batch, 10201 ("duplicate
  message id"). On either, the store reads the subject's last message: if it carries this command's
  last Msg-Id, the append had in fact succeeded and is reported as such.
* ``read`` folds a subject's history with direct gets (``next_by_subj``), from any sequence, so a
  cached snapshot only needs what came after it.

Kept as one module past the ~250-line guide on purpose: it is the one file the lint rules let use
the concurrency header (ruff TID251 in pyproject.toml), and a split would widen that exemption.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import nats.errors
import orjson
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import Header
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError
from nats.nuid import NUID

from shared.envelope import (
    H_EXPECTED_LAST_SUBJECT_SEQ,
    H_EXPECTED_LAST_SUBJECT_SEQ_SUBJECT,
    H_MSG_ID,
    Envelope,
    Recorded,
    msg_id,
)
from shared.metrics import count_appended
from shared.replies import Replies
from shared.subjectread import SubjectReader

log = structlog.get_logger(__name__)

ERR_WRONG_LAST_SEQUENCE = 10071
ERR_BATCH_DUPLICATE_MSG_ID = 10201
# 10164 ("wrong last sequence" inside a batch) means two expected headers on one subject: our bug,
# never a conflict, so it is raised as it is.
CONFLICT_CODES = (ERR_WRONG_LAST_SEQUENCE, ERR_BATCH_DUPLICATE_MSG_ID)


class ConcurrencyConflictError(Exception):
    """Another writer appended to the subject since we read it."""

    def __init__(self, subject: str, expected: int, detail: str) -> None:
        super().__init__(f"{subject}: expected last seq {expected}: {detail}")
        self.subject = subject
        self.expected = expected


class AppendFailedError(Exception):
    """The server did not confirm the append after every retry; the outcome is unknown."""


@dataclass(frozen=True)
class Write:
    """Events for one subject, and the last sequence the writer saw there (0: empty).
    ``guard``: check ``expected`` over this subject filter instead (a wildcard may span several
    aggregates: the registry's phone slots, services/registry/phones.py)."""

    subject: str
    events: list[Envelope]
    expected: int
    guard: str | None = None


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
        scoped_reads: SubjectReader | None = None,
    ) -> None:
        self._nc = nc
        # read with subject-scoped rights only (shared/subjectread.py), for a user that may not
        # direct-get the whole stream (dispatch: never volunteers' subjects)
        self._scoped = scoped_reads
        self._js = nc.jetstream(timeout=publish_timeout)
        self.stream = stream
        self.hub = hub
        self._timeout = publish_timeout
        # every append's ack comes back on one inbox subscription, under one timer (shared/replies.py)
        self._replies = Replies(nc, timeout=publish_timeout)
        self._attempts = publish_attempts
        self._nuid = NUID()  # batch ids: unique, and far cheaper than uuid4 on the hot path
        # asked once (logging is configured before the composition root builds the store): even a
        # filtered structlog call costs about a microsecond through the module's lazy proxy
        self._trace = bool(log.is_enabled_for(logging.DEBUG))

    @property
    def jetstream(self) -> JetStreamContext:
        """The store's JetStream context (the registry's key bucket lives beside its stream)."""
        return self._js

    # -- reading -------------------------------------------------------------------------------

    async def read(self, subject: str, after_seq: int = 0) -> list[Recorded]:
        """Every event on ``subject`` with a stream sequence above ``after_seq``, in order."""
        if self._scoped:
            return await self._scoped.read(subject, after_seq)
        out: list[Recorded] = []
        seq = after_seq + 1
        while True:
            try:
                raw = await self._js.get_msg(self.stream, seq=seq, subject=subject, next=True, direct=True)
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
        [result] = await self.append_many([Write(subject, events, expected)])
        return result

    async def append_many(self, writes: list[Write]) -> list[AppendResult]:
        """Append one command's events to several aggregates as ONE atomic batch.

        Each subject's first message carries its own expected last sequence, so the batch lands
        only if no aggregate changed since it was read: a transaction across aggregates of one
        hub (verified on nats-server 2.15.1). Results are per write, in order.
        """
        plan: list[tuple[str, Envelope, str, int | None]] = []
        guards = {w.subject: w.guard for w in writes if w.guard}
        for w in writes:
            if not w.events:
                raise ValueError(f"nothing to append to {w.subject}")
            keys = {(e.command_id, e.aggregate_id) for e in w.events}
            if len(keys) != 1 or len({e.command_id for w2 in writes for e in w2.events}) != 1:
                raise ValueError("one append records one command's events")
            command_id, aggregate_id = keys.pop()
            for n, event in enumerate(w.events):
                plan.append(
                    (
                        w.subject,
                        event,
                        msg_id(self.hub, command_id, aggregate_id, n),
                        w.expected if n == 0 else None,
                    )
                )
        timed_out = False
        for attempt in range(1, self._attempts + 1):
            try:
                if len(plan) == 1:
                    subject, event, mid, expected = plan[0]
                    last, duplicate = await self._publish_one(subject, event, mid, expected or 0, guards)
                else:
                    last, duplicate = await self._publish_batch(plan, guards), False
            except (TimeoutError, nats.errors.TimeoutError):
                timed_out = True
                log.warning("append_timeout", subjects=len(writes), attempt=attempt)
                continue
            except APIError as err:
                if err.err_code not in CONFLICT_CODES:
                    raise
                mine = await self._already_recorded(plan[-1][0], plan[-1][2])
                if mine is None:
                    raise ConcurrencyConflictError(plan[0][0], plan[0][3] or 0, str(err.description)) from err
                log.info("append_lost_ack_recovered", subjects=len(writes), timed_out=timed_out)
                last, duplicate = mine, True
            if not duplicate:
                for w in writes:
                    count_appended(w.events[0].event_type, len(w.events))
            if self._trace:  # with debug on, each append a command (or reaction) causes is one
                # line carrying the correlation id its handler bound; off, not even the call
                log.debug("events_appended", events=len(plan), last_seq=last, duplicate=duplicate)
            return _results(writes, last, duplicate)
        raise AppendFailedError(f"{len(writes)} subjects: no answer after {self._attempts} attempts")

    async def _publish_one(
        self, subject: str, event: Envelope, mid: str, expected: int, guards: dict[str, str]
    ) -> tuple[int, bool]:
        headers = {
            **event.headers(),
            H_MSG_ID: mid,
            H_EXPECTED_LAST_SUBJECT_SEQ: str(expected),
        }
        if guards:
            headers[H_EXPECTED_LAST_SUBJECT_SEQ_SUBJECT] = guards[subject]
        # js.publish, minus its header copies, PubAck object and per-request future and timer:
        # this runs for every command
        headers["Nats-Expected-Stream"] = self.stream
        try:
            reply = await self._replies.request(subject, event.to_bytes(), headers)
        except nats.errors.NoRespondersError as err:
            raise NoStreamResponseError from err
        resp = orjson.loads(reply.data)
        if "error" in resp:
            raise APIError.from_error(resp["error"])
        return int(resp["seq"]), bool(resp.get("duplicate"))

    async def _publish_batch(
        self, plan: list[tuple[str, Envelope, str, int | None]], guards: dict[str, str]
    ) -> int:
        batch_id = self._nuid.next().decode()
        for n, (subject, event, mid, expected) in enumerate(plan, start=1):
            headers = {
                **event.headers(),
                H_MSG_ID: mid,
                Header.BATCH_ID: batch_id,
                Header.BATCH_SEQUENCE: str(n),
            }
            if expected is not None:
                headers[H_EXPECTED_LAST_SUBJECT_SEQ] = str(expected)
                if subject in guards:
                    headers[H_EXPECTED_LAST_SUBJECT_SEQ_SUBJECT] = guards[subject]
            if n < len(plan):
                await self._nc.publish(subject, event.to_bytes(), headers=headers)
                continue
            headers[Header.BATCH_COMMIT] = "1"
            reply = await self._replies.request(subject, event.to_bytes(), headers)
            resp = orjson.loads(reply.data)
            if "error" in resp:
                raise APIError.from_error(resp["error"])
            return int(resp["seq"])
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


def _results(writes: list[Write], last_seq: int, duplicate: bool) -> list[AppendResult]:
    """Per-write sequences: a batch is stored contiguously, in the order it was sent."""
    total = sum(len(w.events) for w in writes)
    seq = last_seq - total + 1
    out = []
    for w in writes:
        out.append(AppendResult(seq, seq + len(w.events) - 1, duplicate))
        seq += len(w.events)
    return out
