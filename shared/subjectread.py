"""Read one subject's history with rights the server can scope to that subject.

The usual read (shared/eventstore.py) walks a subject with the payload form of direct get,
``$JS.API.DIRECT.GET.<stream>`` + ``{"seq": n, "next_by_subj": s}``: the API subject names no
subject, so a user allowed it may read ANY subject of the stream by sequence (dispatch could read
volunteers' personal data). Here every request carries the subject in its API subject, so the
accounts file (vhub/natsaccounts.py) can allow exactly the user's own subjects:

* ``$JS.API.DIRECT.GET.<stream>.<subject>``: the subject's last message. Usually (a cached
  snapshot that is up to date) that is the whole answer: nothing after ``after_seq``.
* otherwise a short-lived push consumer named ``<prefix>_<nuid>`` filtered on the subject
  (``$JS.API.CONSUMER.CREATE.<stream>.<name>.<subject>``: the server refuses a config whose filter
  differs from the subject's), delivering from ``after_seq + 1`` to our own inbox, no acks, in
  memory; deleted when read (and dropped by the server after ``inactive_threshold`` if we die).
"""

from __future__ import annotations

import contextlib

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from nats.nuid import NUID

from shared.envelope import Envelope, Recorded

_nuid = NUID()


async def read_subject(
    nc: Client,
    js: JetStreamContext,
    stream: str,
    subject: str,
    after_seq: int,
    *,
    prefix: str,
    wait_s: float,
) -> list[Recorded]:
    """Every event on ``subject`` above ``after_seq``, in order, up to the last one seen at the call."""
    try:
        last = await js.get_last_msg(stream, subject, direct=True)
    except NotFoundError:
        return []
    assert last.seq is not None
    if last.seq <= after_seq:
        return []
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)  # before the consumer exists: nothing delivered is missed
    name = f"{prefix}_{_nuid.next().decode()}"
    config = ConsumerConfig(
        name=name,
        filter_subject=subject,
        deliver_subject=inbox,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=after_seq + 1,
        ack_policy=AckPolicy.NONE,
        inactive_threshold=10.0,
        mem_storage=True,
        num_replicas=1,
    )
    out: list[Recorded] = []
    try:
        await js.add_consumer(stream, config, timeout=wait_s)
        while not out or out[-1].seq < last.seq:
            msg = await sub.next_msg(timeout=wait_s)
            seq = msg.metadata.sequence.stream
            out.append(Recorded(subject=subject, seq=seq, envelope=Envelope.from_bytes(msg.data)))
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        with contextlib.suppress(Exception):  # else the server drops it after inactive_threshold
            await js.delete_consumer(stream, name)
    return out
