"""Read one subject's history with rights the server scopes to the service's own subjects, and
without creating any consumer (so without a caller-chosen deliver subject).

The usual read (shared/eventstore.py) walks a subject with the payload form of direct get,
``$JS.API.DIRECT.GET.<stream>`` + ``{"seq": n, "next_by_subj": s}``: the API subject names no
subject, so a user allowed it may read ANY subject of the stream (dispatch could read volunteers'
personal data). A consumer created through ``$JS.API.CONSUMER.CREATE.<stream>.<name>.<subject>``
is scoped to the subject, but its config travels in the body, where the server checks nothing a
permission could name: a push config delivers the service's events onto any subject it likes,
another service's command subjects included (checked on 2.15.1; vhub/natsaccounts.py). So:

* ``$JS.API.DIRECT.GET.<stream>.<subject>`` (the subject form: the accounts allow only the user's
  own subjects): the subject's last message. Usually (a cached snapshot one event behind, or up to
  date) that is the whole read.
* Walk back from it: every event we append says where its predecessor on the subject is — the
  server stores ``Nats-Expected-Last-Subject-Sequence`` (the first event a write puts on a subject)
  and, inside an atomic batch, ``Nats-Batch-Sequence`` (the subject's later events of that batch
  follow their predecessor directly). Each earlier event is fetched by sequence through a pull
  consumer the operator provisioned for this replica (``<service>_read_<slot>``, shared/provisioned.py,
  filtered on the service's own subjects; the service may look at, reset and pull from it, never
  create, alter or delete it): ``$JS.API.CONSUMER.RESET`` to the sequence, then one
  ``$JS.API.CONSUMER.MSG.NEXT``. A cache stale by k events costs one direct get and k - 1 seeks.
* An event without either header (never written by shared/eventstore.py) cannot be walked past:
  the reader scans forward from ``after_seq + 1`` through the same consumer instead, keeping the
  subject's events.

Without the accounts files (tests, a standalone ``vhub dev``) the reader creates its consumer when
it is missing; under them that create is refused and ``vhub provision`` must have made it.
"""

from __future__ import annotations

import asyncio
import json

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from shared.envelope import Envelope, Recorded

API = "$JS.API.CONSUMER"
SCAN_BATCH = 256
# headers the server stored with an event, only read here (the lint rule that keeps their
# constants in shared/eventstore.py is about appending)
STORED_EXPECTED = "Nats-Expected-Last-Subject-Sequence"
STORED_BATCH_SEQ = "Nats-Batch-Sequence"


class UnreadableSubjectError(Exception):
    """The log did not give back what the walk expected (a sequence missing or on another subject)."""


def predecessor(seq: int, headers: dict[str, str]) -> int | None:
    """The stream sequence of the event before ``seq`` on its subject (0: none), if it says."""
    expected = headers.get(STORED_EXPECTED)
    if expected is not None:
        return int(expected)
    if int(headers.get(STORED_BATCH_SEQ, "0")) > 1:
        return seq - 1  # a batch stores its messages contiguously, a subject's in a row
    return None


def read_consumer_config(name: str, filters: list[str], *, provisioned: bool) -> ConsumerConfig:
    """A replica's seek consumer: pull, no acks (a cursor that each read resets)."""
    return ConsumerConfig(
        durable_name=name,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.NONE,
        filter_subjects=filters,
        description=f"vhub reads of {name}" + (" (provisioned by the operator)" if provisioned else ""),
        # one the service made for itself (no accounts, no replica slot) goes when idle
        inactive_threshold=None if provisioned else 3600.0,
    )


class SubjectReader:
    """Subject-scoped reads of one stream through the seek consumer ``consumer`` (its ``filters``)."""

    def __init__(self, nc: Client, *, stream: str, consumer: str, filters: list[str], wait_s: float) -> None:
        self._nc = nc
        self._js = nc.jetstream(timeout=wait_s)
        self.stream = stream
        self.consumer = consumer
        self._filters = filters
        self._wait = wait_s
        self._lock = asyncio.Lock()  # one cursor: one seek at a time
        self._sub: Subscription | None = None
        self._ready = False

    async def read(self, subject: str, after_seq: int) -> list[Recorded]:
        """Every event on ``subject`` above ``after_seq``, in order, up to the last one at the call."""
        try:
            last = await self._js.get_last_msg(self.stream, subject, direct=True)
        except NotFoundError:
            return []
        assert last.seq is not None
        assert last.data is not None
        if last.seq <= after_seq:
            return []
        found = [Recorded(subject=subject, seq=last.seq, envelope=Envelope.from_bytes(last.data))]
        prev = predecessor(last.seq, dict(last.headers or {}))
        while prev is not None and prev > after_seq:
            msg = await self._seek(prev)
            if msg is None or msg.subject != subject or msg.metadata.sequence.stream != prev:
                raise UnreadableSubjectError(f"{subject}: no event at {prev} (walking back to {after_seq})")
            found.append(Recorded(subject=subject, seq=prev, envelope=Envelope.from_bytes(msg.data)))
            prev = predecessor(prev, dict(msg.headers or {}))
        if prev is None:  # a link we cannot follow: read the range forward instead
            return await self._scan(subject, after_seq, last.seq)
        return found[::-1]

    async def _seek(self, seq: int) -> Msg | None:
        """The first message at or after ``seq`` on the consumer's filters."""
        async with self._lock:
            await self._reset(seq)
            batch = await self._next(1)
        return batch[0] if batch else None

    async def _scan(self, subject: str, after_seq: int, last_seq: int) -> list[Recorded]:
        out: list[Recorded] = []
        async with self._lock:
            await self._reset(after_seq + 1)
            while not out or out[-1].seq < last_seq:
                batch = await self._next(SCAN_BATCH)
                if not batch:
                    raise UnreadableSubjectError(f"{subject}: the log ended before {last_seq}")
                for msg in batch:
                    seq = msg.metadata.sequence.stream
                    if msg.subject == subject and seq <= last_seq:
                        out.append(Recorded(subject=subject, seq=seq, envelope=Envelope.from_bytes(msg.data)))
                if batch[-1].metadata.sequence.stream >= last_seq:
                    break
        return out

    async def _reset(self, seq: int) -> None:
        if not self._ready:  # a reset of a missing consumer gets no answer at all (2.15.1)
            try:
                await self._js.consumer_info(self.stream, self.consumer)
            except NotFoundError:
                # no accounts file (or a replica without a slot): make our own; refused under the files
                config = read_consumer_config(self.consumer, self._filters, provisioned=False)
                await self._js.add_consumer(self.stream, config)
            self._ready = True
        subject = f"{API}.RESET.{self.stream}.{self.consumer}"
        body = json.dumps({"seq": seq}).encode()
        error = json.loads((await self._nc.request(subject, body, timeout=self._wait)).data).get("error")
        if error:
            raise UnreadableSubjectError(f"{self.consumer}: reset to {seq}: {error.get('description')}")

    async def _next(self, batch: int) -> list[Msg]:
        """Pull up to ``batch`` messages from where the cursor is ([] at the end of the log)."""
        if self._sub is None:
            self._sub = await self._nc.subscribe(self._nc.new_inbox())
        sub = self._sub
        request = json.dumps({"batch": batch, "no_wait": True}).encode()
        await self._nc.publish(f"{API}.MSG.NEXT.{self.stream}.{self.consumer}", request, reply=sub.subject)
        out: list[Msg] = []
        while len(out) < batch:
            msg = await sub.next_msg(timeout=self._wait)
            if msg.headers and msg.headers.get("Status"):  # 404/408: nothing more now
                break
            if not msg.reply:
                continue
            out.append(msg)
        return out
