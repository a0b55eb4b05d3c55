"""Dead letters for operators: read them, and replay one to its original subject exactly once.

A dead letter (shared/deadletter.py) is a refused message kept in the hub's DLQ stream on
``vhub.dlq.<hub>.<source>`` with its reason, its original subject and stream sequence in headers.

Replaying re-publishes the letter's body and original headers to its original subject. Exactly
once: a replay is a small record on ``vhub.dlq.<hub>._replays.<seq>`` in the same stream, written
with ``Nats-Expected-Last-Subject-Sequence`` so that of two operators (or two runs) only one can
claim a letter; the claim is written before the publish and confirmed after it, so a letter is
never published twice (a crash between the two leaves a claim that says so, never a second copy).
The published copy carries ``Nats-Msg-Id: dlq-replay:<hub>:<seq>`` (a resend inside the duplicate
window is dropped by the server) and ``Vhub-Replay-Of``. Events are never replayed: an event stays
in the log where it was, and the projection that refused it reads it again on ``vhub rebuild``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import Header
from nats.js.errors import BadRequestError, NotFoundError

from shared.envelope import (
    DLQ_PREFIX,
    EVT_PREFIX,
    H_DLQ_CODE,
    H_DLQ_REASON,
    H_DLQ_SOURCE,
    H_DLQ_STREAM_SEQ,
    H_DLQ_SUBJECT,
    H_DLQ_TRUNCATED,
    H_MSG_ID,
)
from shared.metrics import reason_code

H_REPLAY_OF = "Vhub-Replay-Of"
H_CODE = H_DLQ_CODE  # written by shared/deadletter.py beside the reason
TRUNCATED = H_DLQ_TRUNCATED  # a letter whose body was cut to fit (shared/deadletter.py)
REPLAYS = "_replays"  # the pseudo-source token of replay records (no consumer starts with "_")
WRONG_LAST_SEQUENCE = 10071


@dataclass(frozen=True)
class Letter:
    """One dead letter, with its replay record if there is one."""

    seq: int
    time: datetime | None
    source: str
    subject: str
    original_seq: int | None
    reason: str
    headers: dict[str, str]
    body: bytes
    replay: dict[str, Any] | None = field(default=None)

    @property
    def code(self) -> str:
        """The reason's short code: the letter's ``Vhub-Dlq-Code`` header, else derived from the
        reason as ``vhub_dead_letters_total`` counts it."""
        return self.headers.get(H_CODE) or reason_code(self.reason)

    @property
    def state(self) -> str:
        """``new``, ``claimed`` (a replay began, not confirmed), ``replayed`` or ``failed``."""
        return str(self.replay["state"]) if self.replay else "new"

    def not_replayable(self) -> str | None:
        """Why this letter cannot be replayed at all, or None."""
        if not self.subject:
            return "the letter has no original subject"
        if self.subject.startswith(f"{EVT_PREFIX}."):
            return "an event stays in the log where it is: `vhub rebuild` makes its projection read it again"
        if TRUNCATED in self.headers:
            return f"its body was truncated to fit the dead-letter stream ({self.headers[TRUNCATED]})"
        return None


class ReplayRefused(Exception):
    """The letter is not replayed; ``str()`` says why."""


class DeadLetterStore:
    """The DLQ stream of one hub, read and replayed through JetStream."""

    def __init__(self, js: JetStreamContext, *, stream: str, hub: str) -> None:
        self._js = js
        self.stream = stream
        self.hub = hub

    def _replay_subject(self, seq: int) -> str:
        return f"{DLQ_PREFIX}.{self.hub}.{REPLAYS}.{seq}"

    async def _walk(self, subject: str) -> AsyncIterator[Any]:
        seq = 1
        while True:
            try:
                msg = await self._js.get_msg(self.stream, seq=seq, subject=subject, next=True)
            except NotFoundError:
                return
            yield msg
            seq = int(msg.seq or seq) + 1

    async def letters(self, source: str | None = None, since: datetime | None = None) -> list[Letter]:
        """Every letter (of ``source``, at or after ``since``), oldest first, with replay states."""
        replays = {}
        async for msg in self._walk(f"{DLQ_PREFIX}.{self.hub}.{REPLAYS}.*"):
            replays[int(str(msg.subject).rsplit(".", 1)[-1])] = json.loads(msg.data or b"{}")
        out = []
        async for msg in self._walk(f"{DLQ_PREFIX}.{self.hub}.{source or '*'}"):
            if str(msg.subject).split(".")[3] == REPLAYS:
                continue
            if since is not None and msg.time is not None and msg.time < since:
                continue
            out.append(_letter(msg, replays.get(int(msg.seq))))
        return out

    async def letter(self, seq: int) -> Letter:
        """The letter at ``seq`` (KeyError when there is none)."""
        try:
            msg = await self._js.get_msg(self.stream, seq=seq)
        except NotFoundError:
            raise KeyError(seq) from None
        subject = str(msg.subject)
        if not subject.startswith(f"{DLQ_PREFIX}.{self.hub}.") or subject.split(".")[3] == REPLAYS:
            raise KeyError(seq)
        last = await self._last(self._replay_subject(seq))
        return _letter(msg, json.loads(last.data or b"{}") if last else None)

    async def _last(self, subject: str) -> Any:
        try:
            return await self._js.get_last_msg(self.stream, subject)
        except NotFoundError:
            return None

    async def replay(self, seq: int, *, actor: str = "operator") -> dict[str, Any]:
        """Re-publish letter ``seq`` to its original subject, once; returns the confirmation
        record. Raises :class:`ReplayRefused` (already replayed, claimed, not replayable)."""
        letter = await self.letter(seq)
        why = letter.not_replayable()
        if why:
            raise ReplayRefused(why)
        claim_seq = await self._claim(letter, actor)
        # the original's own headers; not the DLQ's, nor JetStream's control headers (an expected
        # stream or sequence of the dead-letter publish would make this publish fail)
        out = {k: v for k, v in letter.headers.items() if not k.startswith(("Vhub-Dlq-", "Nats-"))}
        out[H_REPLAY_OF] = f"{self.stream}:{seq}"
        out[H_MSG_ID] = f"dlq-replay:{self.hub}:{seq}"
        try:
            ack = await self._js.publish(letter.subject, letter.body, headers=out)
        except Exception as err:
            await self._record(seq, claim_seq, {"state": "failed", "error": f"{type(err).__name__}: {err}"})
            why = f"the publish to {letter.subject} failed ({err}); it may be replayed again"
            raise ReplayRefused(why) from err
        done = {
            "state": "replayed",
            "to": letter.subject,
            "stream": ack.stream,
            "seq": ack.seq,
            "duplicate": bool(ack.duplicate),
            "by": actor,
            "at": datetime.now(UTC).isoformat(),
        }
        await self._record(seq, claim_seq, done)
        return done

    async def _claim(self, letter: Letter, actor: str) -> int:
        """Write the claim over the last replay record (none, or a failed one); only one wins."""
        last = await self._last(self._replay_subject(letter.seq))
        state = json.loads(last.data or b"{}").get("state") if last else None
        if state == "replayed":
            raise ReplayRefused(f"letter {letter.seq} was already replayed")
        if state == "claimed":
            raise ReplayRefused(f"a replay of {letter.seq} began and was never confirmed: check its target")
        claim = {"state": "claimed", "by": actor, "at": datetime.now(UTC).isoformat()}
        return await self._record(letter.seq, int(last.seq) if last else 0, claim)

    async def _record(self, seq: int, expected: int, record: dict[str, Any]) -> int:
        mine = uuid.uuid4().hex  # unique per attempt: a lost ack is recognised by it (FACTS.md)
        subject = self._replay_subject(seq)
        headers = {
            Header.EXPECTED_LAST_SUBJECT_SEQUENCE: str(expected),
            H_MSG_ID: f"dlq-replay-record:{mine}",
        }
        body = json.dumps(record).encode()
        try:
            ack = await self._js.publish(subject, body, stream=self.stream, headers=headers)
        except BadRequestError as err:
            if err.err_code != WRONG_LAST_SEQUENCE:
                raise
            last = await self._last(subject)
            if last is not None and (last.headers or {}).get(H_MSG_ID) == f"dlq-replay-record:{mine}":
                return int(last.seq)  # ours landed; only the ack was lost
            raise ReplayRefused(f"letter {seq} is being replayed by someone else") from None
        return int(ack.seq)


def _letter(msg: Any, replay: dict[str, Any] | None) -> Letter:
    headers = {k: str(v) for k, v in (msg.headers or {}).items()}
    original = headers.get(H_DLQ_STREAM_SEQ)
    return Letter(
        seq=int(msg.seq),
        time=msg.time,
        source=headers.get(H_DLQ_SOURCE, str(msg.subject).split(".")[-1]),
        subject=headers.get(H_DLQ_SUBJECT, ""),
        original_seq=int(original) if original and original.isdecimal() else None,
        reason=headers.get(H_DLQ_REASON, ""),
        headers=headers,
        body=bytes(msg.data or b""),
        replay=replay,
    )


Check = Callable[[bytes], object]


def fixed_checks() -> dict[str, Check]:
    """Per source, what the current code does with a body: raises ValueError when it still refuses
    it. ``vhub dlq replay --all-fixed`` replays the letters whose body passes."""
    from services.dispatch.ingest import parse_fact

    return {"dispatch_ingest": parse_fact}
