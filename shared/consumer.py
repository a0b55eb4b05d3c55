"""A durable pull consumer that hands ordered batches to a handler, then acks them at once.

(Past 250 lines on purpose: binding the consumer and running it share one invariant, which
consumer sequence comes next; split, it would be kept in two places.)

The handler's own store is the truth about how far it got (a checkpoint written with its effects);
the consumer is a cursor. On start, a consumer that is ahead of the checkpoint (a fresh or restored
database, an in-memory projection) is recreated from ``checkpoint + 1``, or, when the operator
provisioned it (shared/provisioned.py: the service may only bind to it, vhub/natsaccounts.py), reset
to ``checkpoint + 1`` (``$JS.API.CONSUMER.RESET``, server 2.14+).

**Every delivery reaches the reader, or the consumer starts again** (given ``checkpoint``: one
reader, AckPolicy.ALL). A fetch answer lost with a dropped link still counts as delivered; with
fewer than ``max_ack_pending`` (one batch) outstanding the server goes on, and the next ack-all
would take the lost ones along. So a batch whose consumer sequences do not follow on from the last
(:class:`shared.delivery.Continuity`, which says what was verified), or that fails, is neither
handed on nor acked nor nak'd (a nak sent just before the next pull was seen served after it): the
consumer starts again after ``checkpoint()`` with a new pull inbox. Idle, it asks the server every
``idle_check_s`` whether it delivered anything since (a lost answer's tail). Ingest's work queue
is shared by replicas and acks each message (a lost delivery comes again after ``ack_wait``): not
checked, and a failed batch is nak'd.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import APIError, NotFoundError

from shared.delivery import Continuity
from shared.metrics import BATCH_EVENTS, BATCH_SECONDS, CONSUMER_LAG
from shared.puller import Puller

log = structlog.get_logger(__name__)
PROVISIONED = "(provisioned by the operator)"  # in a consumer's description: bind and reset only
BatchHandler = Callable[[list[Msg]], Awaitable[None]]


class DurableConsumer:
    """Fetches, hands on and acks batches of ``durable`` (see the module docstring).

    ``checkpoint``: the last stream sequence its reader has applied (the reader's truth). Given, the
    consumer has one reader and every delivery must reach it; without it (a work queue shared by
    replicas, ``explicit_ack``) a failed batch is nak'd and nothing is checked."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        durable: str,
        filter_subjects: list[str],
        handler: BatchHandler,
        batch_size: int = 500,
        fetch_timeout: float = 0.5,
        ack_wait: float = 60.0,
        retry_backoff: float = 1.0,
        inactive_threshold: float | None = None,
        explicit_ack: bool = False,
        pace: float = 0.0,
        checkpoint: Callable[[], int] | None = None,
        idle_check_s: float = 2.0,
    ) -> None:
        self._js = js
        self.stream = stream
        self.durable = durable
        self._filters = filter_subjects
        self._handler = handler
        self._batch = batch_size
        self._fetch_timeout = fetch_timeout
        self._ack_wait = ack_wait
        self._backoff = retry_backoff
        self._inactive = inactive_threshold  # per-replica consumers: the server drops idle ones
        self._explicit = explicit_ack  # work-queue streams refuse AckPolicy.ALL: ack each message
        # after a short batch, wait this long before fetching again, so a trickle of events is
        # applied in batches (each fetch costs a few round trips of client CPU)
        self._pace = pace
        self._checkpoint = checkpoint
        self._line = Continuity()  # each binding takes a new pull inbox (see run)
        self._idle_check = idle_check_s
        self._checked = 0.0  # monotonic time of the last idle check
        self.lag = -1  # unknown until the first fetch or info
        self.failures = 0
        self.restarts = 0  # started again after deliveries that never reached the reader
        self.provisioned = False  # the operator's (learned when bound): reset, never deleted

    def _config(self, start_after: int) -> ConsumerConfig:
        return consumer_config(
            self.durable,
            self._filters,
            start_after=start_after,
            batch_size=self._batch,
            ack_wait=self._ack_wait,
            explicit_ack=self._explicit,
            inactive_threshold=self._inactive,
        )

    def _bound(self, info: ConsumerInfo | None) -> None:
        """Expect the first delivery after the ack floor (``None``: created or reset, so at 1)."""
        floor = info.ack_floor.consumer_seq if info is not None and info.ack_floor else 0
        self._line.bind(floor or 0)

    async def _create(self, start_after: int) -> None:
        await self._js.add_consumer(self.stream, self._config(start_after))
        self._bound(None)

    async def ensure(self, start_after: int) -> None:
        """Create the consumer, or recreate it when it is past ``start_after`` (our checkpoint);
        one the operator provisioned (:data:`PROVISIONED` in its description) is reset instead,
        unless it stands exactly there (and is only bound, never reset, when shared: no
        ``checkpoint``, as the ingest work queue's replicas share theirs)."""
        try:
            info = await self._js.consumer_info(self.stream, self.durable)
        except NotFoundError:
            await self._create(start_after)
            return
        floor = (info.ack_floor.stream_seq if info.ack_floor else 0) or 0
        if self._provisioned_is(info):
            if set(info.config.filter_subjects or [info.config.filter_subject or ""]) != set(self._filters):
                raise RuntimeError(
                    f"{self.durable}: the provisioned consumer has other filters (vhub provision)"
                )
            delivered = (info.delivered.stream_seq if info.delivered else 0) or 0
            if self._checkpoint is not None and (delivered != start_after or info.num_ack_pending):
                # ahead (a fresh or in-memory reader, a dead predecessor's deliveries) or behind
                log.info("consumer_reset", durable=self.durable, delivered=delivered, checkpoint=start_after)
                await self.reset(start_after + 1)
            else:
                self._bound(info)
            return
        if floor > start_after or set(info.config.filter_subjects or []) != set(self._filters):
            log.warning("consumer_recreated", durable=self.durable, ack_floor=floor, checkpoint=start_after)
            await self._js.delete_consumer(self.stream, self.durable)
            await self._create(start_after)
            return
        self._bound(info)

    def _provisioned_is(self, info: ConsumerInfo) -> bool:
        self.provisioned = PROVISIONED in (info.config.description or "")
        return self.provisioned

    async def restart_after(self, start_after: int) -> None:
        """Deliver again from ``start_after + 1`` whatever the consumer's state: recreated (reset,
        for one the operator provisioned)."""
        try:
            info = await self._js.consumer_info(self.stream, self.durable)
        except NotFoundError:
            info = None
        if info is not None and self._provisioned_is(info):
            await self.reset(start_after + 1)
            return
        if info is not None:
            await self._js.delete_consumer(self.stream, self.durable)
        await self._create(start_after)

    async def reset(self, seq: int) -> None:
        """Deliver again from stream sequence ``seq`` (nats-py 2.16 has no call for it)."""
        subject = f"{self._js._prefix}.CONSUMER.RESET.{self.stream}.{self.durable}"
        reply = await self._js._nc.request(subject, json.dumps({"seq": seq}).encode(), timeout=5.0)
        answer = json.loads(reply.data)
        if "error" in answer:
            raise APIError.from_error(answer["error"])
        self._bound(None)

    async def delete(self) -> None:
        """Delete a consumer of our own making; the operator's stays (we may not delete it)."""
        if self.provisioned:
            return
        with contextlib.suppress(NotFoundError):
            await self._js.delete_consumer(self.stream, self.durable)

    async def pending(self) -> int:
        """Messages not yet acknowledged (delivered or not)."""
        return self._lag_of(await self._js.consumer_info(self.stream, self.durable))

    def _lag_of(self, info: ConsumerInfo) -> int:
        self.lag = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        CONSUMER_LAG.labels(self.durable).set(self.lag)
        return self.lag

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch, handle and ack batches until ``stop`` is set."""
        if self._checkpoint is not None and self._line.expect == 0:
            self._bound(await self._js.consumer_info(self.stream, self.durable))
        puller: Puller | None = None
        epoch = -1
        try:
            while not stop.is_set():
                if puller is None or epoch != self._line.epoch:  # bound anew: drop old requests
                    if puller is not None:
                        await puller.stop()
                    puller = Puller(self._js, stream=self.stream, durable=self.durable)
                    epoch = self._line.epoch
                    await puller.start()
                msgs = await puller.fetch(self._batch, self._fetch_timeout)
                if not msgs:  # nothing within the timeout (or another replica's turn)
                    await self._idle()
                    continue
                await self._handle(msgs, stop)
                if self._pace > 0 and len(msgs) < self._batch:
                    with contextlib.suppress(TimeoutError):  # pacing; wakes at once on stop
                        await asyncio.wait_for(stop.wait(), self._pace)
        finally:
            if puller is not None:
                await puller.stop()

    async def _idle(self) -> None:
        """Nothing came: did the server deliver anything we never got (a lost answer's tail)?"""
        self.lag = 0
        CONSUMER_LAG.labels(self.durable).set(0)
        if self._checkpoint is None or time.monotonic() - self._checked < self._idle_check:
            return
        self._checked = time.monotonic()
        info = await self._js.consumer_info(self.stream, self.durable)
        self._lag_of(info)
        why = self._line.missed((info.delivered.consumer_seq if info.delivered else 0) or 0)
        if why is not None:
            await self._lost(why)

    async def _lost(self, why: str) -> None:
        assert self._checkpoint is not None
        at = self._checkpoint()
        log.warning("deliveries_lost", durable=self.durable, checkpoint=at, why=why)
        self.restarts += 1
        await self.restart_after(at)

    async def _handle(self, msgs: list[Msg], stop: asyncio.Event) -> None:
        started = time.perf_counter()
        if self._checkpoint is not None:
            why = self._line.take(msgs)
            if why is not None:
                await self._lost(why)
                return  # neither handed on nor acked: an ack (all up to it) would take the hole
        epoch = self._line.epoch
        try:
            await self._handler(msgs)
        except Exception:
            self.failures += 1
            log.exception("batch_failed", durable=self.durable, size=len(msgs))
            if self._checkpoint is None:
                for m in msgs:
                    await m.nak()
            elif epoch == self._line.epoch:  # (the handler may have restarted it: a rewind)
                await self.restart_after(self._checkpoint())
            # back off before the redelivery, but wake at once on shutdown
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._backoff)
            return
        if epoch != self._line.epoch:
            return  # restarted by the handler: these belong to the consumer before, never ack them
        for m in msgs if self._explicit else msgs[-1:]:
            await m.ack()
        BATCH_SECONDS.labels(self.durable).observe(time.perf_counter() - started)
        BATCH_EVENTS.labels(self.durable).inc(len(msgs))
        self.lag = int(msgs[-1].metadata.num_pending or 0)
        CONSUMER_LAG.labels(self.durable).set(self.lag)


def consumer_config(
    durable: str,
    filters: list[str],
    *,
    start_after: int = 0,
    batch_size: int = 500,
    ack_wait: float = 60.0,
    explicit_ack: bool = False,
    inactive_threshold: float | None = None,
    provisioned: bool = False,
) -> ConsumerConfig:
    """The config of a durable pull consumer as :class:`DurableConsumer` reads it; ``provisioned``:
    as the operator provisions it (shared/streams.py)."""
    policy = DeliverPolicy.BY_START_SEQUENCE if start_after > 0 else DeliverPolicy.ALL
    return ConsumerConfig(
        durable_name=durable,
        deliver_policy=policy,
        opt_start_seq=start_after + 1 if start_after > 0 else None,
        ack_policy=AckPolicy.EXPLICIT if explicit_ack else AckPolicy.ALL,
        ack_wait=ack_wait,
        max_ack_pending=batch_size,
        filter_subjects=filters,
        description=f"vhub consumer {durable}" + (f" {PROVISIONED}" if provisioned else ""),
        inactive_threshold=inactive_threshold,
    )


async def keep_running(
    consumer: DurableConsumer, stop: asyncio.Event, resume: Callable[[], Awaitable[None]]
) -> None:
    """Run ``consumer`` until ``stop``; after a failure (server away, consumer deleted) back off a
    second, ``resume`` (recreate the consumer where its owner's truth says) and run it again."""
    while not stop.is_set():
        try:
            await consumer.run(stop)
        except Exception:
            log.exception("consumer_failed", durable=consumer.durable)
            with contextlib.suppress(TimeoutError):  # back off; wake at once on shutdown
                await asyncio.wait_for(stop.wait(), 1.0)
            try:
                await resume()
            except Exception:
                log.exception("consumer_ensure_failed", durable=consumer.durable)
