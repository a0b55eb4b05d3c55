"""Field reports from other systems: ``vhub.ingest.<hub>.activity_reported``.

A fact is the ``report_activity`` command's JSON (``fact_id`` may stand for ``command_id``) and gets
exactly the same validation. What fails (not JSON, wrong shape, any rule) goes to the dead-letter
stream with the reason, and the consumer carries on. A fact without an id takes one from its stream
sequence, so a redelivery after a crash is recognised as the same report. Infrastructure failures
(the event store not answering) are not the fact's fault: the batch is retried instead.

One durable consumer is shared by every replica (the ingest stream is a work queue).
"""

from __future__ import annotations

import json

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from services.dispatch.domain.commands import ReportActivity
from services.dispatch.service import DispatchService
from shared.aggregates import CommandContext
from shared.commands import invalid
from shared.consumer import DurableConsumer
from shared.deadletter import DeadLetters
from shared.decider import Rejected
from shared.envelope import ingest_subject

log = structlog.get_logger(__name__)
FACT_TYPE = "activity_reported"
DURABLE = "dispatch_ingest_activity"


class ActivityIngest:
    def __init__(
        self,
        service: DispatchService,
        js: JetStreamContext,
        *,
        stream: str,
        dead_letters: DeadLetters,
        batch_size: int = 100,
    ) -> None:
        self._svc = service
        self._js = js
        self._dlq = dead_letters
        self.recorded = 0
        self.refused = 0
        self.consumer = DurableConsumer(
            js,
            stream=stream,
            durable=DURABLE,
            batch_size=batch_size,
            filter_subjects=[ingest_subject(service.hub, FACT_TYPE)],
            handler=self.handle,
            explicit_ack=True,
        )

    async def ensure(self) -> None:
        """Create the shared consumer if no replica has (never recreate it under another)."""
        try:
            await self._js.consumer_info(self.consumer.stream, DURABLE)
        except NotFoundError:
            await self.consumer.ensure(0)

    async def handle(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            await self._one(msg)

    async def _one(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        try:
            cmd = self._parse(msg.data)
        except ValueError as err:
            await self._refuse(msg, seq, str(err))
            return
        ctx = CommandContext(
            command_id=cmd.command_id or f"ingest:{seq}",
            correlation_id=cmd.correlation_id or cmd.command_id or f"ingest:{seq}",
            actor=cmd.actor or "ingest",
            received_at=self._svc.clock(),
        )
        try:
            await self._svc.report_activity(cmd, ctx, source="ingest")
        except Rejected as rej:
            await self._refuse(msg, seq, f"{rej.code}: {rej.reason}")
            return
        self.recorded += 1

    @staticmethod
    def _parse(raw: bytes) -> ReportActivity:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"invalid_fact: body is not JSON: {err}") from None
        if not isinstance(body, dict):
            raise ValueError("invalid_fact: body must be a JSON object")
        if "fact_id" in body:
            body.setdefault("command_id", body.pop("fact_id"))
        try:
            return ReportActivity.model_validate(body)
        except ValidationError as err:
            refused = invalid(err, ReportActivity)
            raise ValueError(f"{refused.code}: {refused.reason}") from None

    async def _refuse(self, msg: Msg, seq: int, reason: str) -> None:
        self.refused += 1
        await self._dlq.send(subject=msg.subject, payload=msg.data, reason=reason, stream_seq=seq)
