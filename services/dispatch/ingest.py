"""Field reports from other systems: ``vhub.ingest.<hub>.activity_reported``.

A fact is the ``report_activity`` command's JSON (``fact_id`` may stand for ``command_id``) and gets
exactly the same validation, through the one bounded decoder (:mod:`shared.jsonbody`: size and
depth limits, so 10,000 nested brackets are a refusal, not a ``RecursionError``). What fails (not
JSON, too big or deep, wrong shape, any rule, and any error the fact itself provokes) goes to the
dead-letter stream with the reason (a dead letter always fits: :mod:`shared.deadletter`), and the
consumer carries on; so does a fact of a type nobody reads (``unknown_fact_type``): this
consumer takes every ``vhub.ingest.<hub>.>`` subject, so none waits in the work queue forever.
A fact without an id takes one from its stream sequence, so a redelivery
after a crash is recognised as the same report. Infrastructure failures (the event store or the
server not answering) are not the fact's fault: the batch is retried instead.

One durable consumer is shared by every replica (the ingest stream is a work queue).
"""

from __future__ import annotations

import contextlib

import nats.errors
import nats.js.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from services.dispatch.domain.commands import ReportActivity
from services.dispatch.service import DispatchService
from shared.aggregates import CommandContext
from shared.commands import invalid
from shared.consumer import PROVISIONED, DurableConsumer
from shared.deadletter import DeadLetters
from shared.decider import Rejected
from shared.envelope import ingest_subject
from shared.events.dispatch import CONTEXT
from shared.eventstore import AppendFailedError, ConcurrencyConflictError
from shared.jsonbody import BadBody, decode_object
from shared.ownership import Ownership
from shared.provisioned import INGEST_BATCH, INGEST_CONSUMER, ingest_filters

log = structlog.get_logger(__name__)
FACT_TYPE = "activity_reported"
DURABLE = INGEST_CONSUMER  # provisioned by the operator (shared/provisioned.py)
MAX_FACT_BYTES = 16 * 1024  # a report is a few hundred bytes
# not the fact's fault: the batch is nak'd and comes again once the store or server answers
INFRASTRUCTURE = (
    nats.errors.Error,
    nats.js.errors.Error,
    AppendFailedError,
    ConcurrencyConflictError,
    TimeoutError,
    OSError,
)


def parse_fact(raw: bytes) -> ReportActivity:
    """An ingest fact as the ``report_activity`` command; ``ValueError`` with a reason that quotes
    nothing of the body when it is not one (also used by ``vhub dlq replay``)."""
    try:
        body = decode_object(raw, max_bytes=MAX_FACT_BYTES)
    except BadBody as err:
        raise ValueError(f"invalid_fact: {err.reason}") from None
    if "fact_id" in body:
        body.setdefault("command_id", body.pop("fact_id"))
    try:
        return ReportActivity.model_validate(body)
    except ValidationError as err:
        refused = invalid(err, ReportActivity)
        raise ValueError(f"{refused.code}: {refused.reason}") from None


class ActivityIngest:
    def __init__(
        self,
        service: DispatchService,
        js: JetStreamContext,
        *,
        stream: str,
        dead_letters: DeadLetters,
        ownership: Ownership | None = None,
        batch_size: int = INGEST_BATCH,
    ) -> None:
        self._svc = service
        self._ownership = ownership or Ownership.of(service.hub)
        self._js = js
        self._dlq = dead_letters
        self.recorded = 0
        self.refused = 0
        self._subject = ingest_subject(service.hub, FACT_TYPE)
        self.consumer = DurableConsumer(
            js,
            stream=stream,
            durable=DURABLE,
            batch_size=batch_size,
            filter_subjects=ingest_filters(service.hub),
            handler=self.handle,
            explicit_ack=True,
        )

    async def ensure(self) -> None:
        """Bind to the consumer the operator provisioned (never reset: the replicas share it), or,
        without one (no accounts file), create it if no replica has, and recreate it only when it
        filters other subjects (an older version's), never under a replica of this one. A work
        queue keeps what was not acknowledged, so a new consumer gets it."""
        try:
            info = await self._js.consumer_info(self.consumer.stream, DURABLE)
        except NotFoundError:
            await self.consumer.ensure(0)
            return
        if PROVISIONED in (info.config.description or ""):
            await self.consumer.ensure(0)  # checks its filters; a shared consumer is only bound
            return
        filters = set(info.config.filter_subjects or [info.config.filter_subject or ""])
        if filters != set(ingest_filters(self._svc.hub)):
            log.warning("ingest_consumer_refiltered", durable=DURABLE)
            with contextlib.suppress(NotFoundError):
                await self._js.delete_consumer(self.consumer.stream, DURABLE)
            await self.consumer.ensure(0)

    async def handle(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            await self._one(msg)

    async def _one(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        if msg.subject != self._subject:
            await self._refuse(
                msg, seq, "unknown_fact_type: no reader for this fact type (see docs/asyncapi.json)"
            )
            return
        try:
            cmd = parse_fact(msg.data)
        except ValueError as err:
            await self._refuse(msg, seq, str(err))
            return
        except Exception as err:  # parsing is pure: whatever it raises, the body provoked it
            await self._refuse(msg, seq, f"invalid_fact: unreadable body ({type(err).__name__})")
            return
        ctx = CommandContext(
            command_id=cmd.command_id or f"ingest:{seq}",
            correlation_id=cmd.correlation_id or cmd.command_id or f"ingest:{seq}",
            actor=cmd.actor or "ingest",
            received_at=self._svc.clock(),
        )
        try:
            self._ownership.refuse_foreign(cmd, context=CONTEXT, name="report_activity")
            await self._svc.report_activity(cmd, ctx, source="ingest")
        except Rejected as rej:
            await self._refuse(msg, seq, f"{rej.code}: {rej.reason}")
            return
        except INFRASTRUCTURE:
            raise
        except Exception as err:  # a fact that trips a bug must not hold up every fact behind it
            log.exception("ingest_fact_failed", seq=seq)
            await self._refuse(msg, seq, f"internal_error: {type(err).__name__} while recording it")
            return
        self.recorded += 1

    async def _refuse(self, msg: Msg, seq: int, reason: str) -> None:
        self.refused += 1
        await self._dlq.send(subject=msg.subject, payload=msg.data, reason=reason, stream_seq=seq)
