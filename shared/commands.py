"""The command contract (request/reply JSON) and the bus that serves it on plain nats-py.

Why not FastStream here: measured on this machine kind (FACTS.md), a FastStream subscriber spends
~370 µs of CPU per command against ~70 µs for a nats-py callback, and the command path is where vhub's
throughput is decided. Each command runs in its own task, bounded by a semaphore; when every slot is
busy the subscription's pending queue holds the rest (back-pressure instead of unbounded tasks).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

import orjson
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel, Field, ValidationError

from shared.aggregates import CommandContext, Outcome
from shared.contract import Command
from shared.decider import Rejected
from shared.envelope import command_subject, hub_command_subject
from shared.jsonbody import BadBody, decode_object
from shared.metrics import COMMAND_SECONDS, COMMANDS
from shared.ownership import Ownership
from shared.refusals import INTERNAL_REASON, describe, encode_reply
from shared.runtime import barrier

log = structlog.get_logger(__name__)
H_STORED_STREAM = "Nats-Stream"  # what the server puts on a stored message it hands out


class EventInfo(BaseModel):
    event_type: str
    event_id: str
    seq: int


class Accepted(BaseModel):
    accepted: Literal[True] = True
    aggregate_id: str
    version: int = Field(description="stream sequence of the last event written (a read token)")
    events: list[EventInfo] = Field(default_factory=list)
    warnings: list[dict[str, Any]] = Field(default_factory=list)
    duplicate: bool = Field(default=False, description="the command id had already been recorded")
    result: dict[str, Any] | None = None

    @classmethod
    def of(cls, outcome: Outcome, **extra: Any) -> Accepted:
        # validated from plain dicts in one pass of pydantic's core: cheaper than building the
        # EventInfo models first, and than model_construct (pure Python: twice the cost here)
        return cls.model_validate(
            {
                "aggregate_id": outcome.aggregate_id,
                "version": outcome.version,
                "events": [
                    {"event_type": e.event_type, "event_id": e.event_id, "seq": e.seq} for e in outcome.events
                ],
                "duplicate": outcome.duplicate,
                **extra,
            }
        )

    def json_bytes(self) -> bytes:
        """``model_dump_json(exclude_none=True)``'s bytes, written by orjson from the fields (the
        reply of every command). ``result`` and ``warnings`` hold values of any type: a datetime,
        a subclass (an enum), or anything else orjson does not write as pydantic does raises,
        and pydantic writes the reply then."""
        head = self.__dict__
        try:
            events = [e.__dict__ for e in head["events"]]
        except AttributeError:  # not EventInfo models (model_construct): pydantic knows
            return self.model_dump_json(exclude_none=True).encode()
        body = {
            "accepted": True,
            "aggregate_id": head["aggregate_id"],
            "version": head["version"],
            "events": events,
            "warnings": head["warnings"],
            "duplicate": head["duplicate"],
        }
        if head["result"] is not None:
            body["result"] = head["result"]
        try:
            return orjson.dumps(body, option=_AS_PYDANTIC)
        except TypeError:
            return self.model_dump_json(exclude_none=True).encode()


# every type orjson would write otherwise than pydantic goes to ``default``, which is not given
_AS_PYDANTIC = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
)


class Refused(BaseModel):
    accepted: Literal[False] = False
    code: str
    reason: str
    details: dict[str, Any] = Field(default_factory=dict)


Reply = Accepted | Refused
C = TypeVar("C", bound=Command)
Handler = Callable[[C, CommandContext], Awaitable[Accepted]]


@dataclass(frozen=True)
class Route(Generic[C]):
    model: type[C]
    handler: Handler[C]


class RandomIds:
    """``uuid.uuid4().hex`` for commands sent without ids, from a pool of ``os.urandom`` bytes: one
    system call per 256 ids instead of one each (uuid4 showed in the command path's profile)."""

    _POOL = 16 * 256

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._drop)  # a child never repeats its parent's ids

    def _drop(self) -> None:
        self._pool, self._at = b"", 0

    def __call__(self) -> str:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(self._POOL), 0
        d = bytearray(self._pool[self._at : self._at + 16])
        self._at += 16
        d[6] = (d[6] & 0x0F) | 0x40  # version 4
        d[8] = (d[8] & 0x3F) | 0x80  # RFC 4122 variant
        return d.hex()


new_command_id = RandomIds()  # one per process: its fork hook is registered once


def invalid(err: ValidationError, model: type[BaseModel]) -> Refused:
    """A validation failure as a refusal: known field names and problems only, never input values
    or unknown keys (they may be personal, and they may be huge); see shared.refusals."""
    reason, details = describe(err, model)
    return Refused(code="invalid_command", reason=reason, details=details)


class CommandBus:
    """Serves ``vhub.cmd.<context>.<name>`` and, given its hub's ``ownership``,
    ``vhub.cmd.<hub>.<context>.<name>``, in queue group ``<context>``. Then a command naming an
    aggregate or a province that another hub owns is refused ``owned_by_other_hub`` before any
    handler runs (shared.ownership).

    The plain subject reaches the hub the client is connected to: a leaf node prefers its local
    queue subscribers, and crosses to another hub's only when it has none (docs/architecture.md §7;
    tests/integration/test_hub_routing.py)."""

    def __init__(
        self,
        nc: Client,
        context: str,
        *,
        clock: Callable[[], datetime],
        concurrency: int = 256,
        ownership: Ownership | None = None,
    ) -> None:
        self._nc = nc
        self.context = context
        self.ownership = ownership
        self._clock = clock
        self._routes: dict[str, Route[Any]] = {}
        self._subs: list[Subscription] = []
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self.served = 0  # commands this bus answered (Prometheus counts per process, not per bus)
        self._served: set[str] = set()
        self._counters: dict[tuple[str, str], Any] = {}
        self._timers: dict[str, Any] = {}

    def route(self, name: str, model: type[C], handler: Handler[C]) -> None:
        self._routes[name] = Route(model, handler)

    def serve(self, table: Mapping[str, type[Command]], *services: object) -> None:
        """Route every command of a context's table (``COMMANDS`` in its ``domain/commands.py``,
        subject name → model) to the method of the same name on the first of ``services`` that has
        one. A command that nothing serves fails here, at start-up, not on its first message."""
        for name, model in table.items():
            handler = next((getattr(s, name) for s in services if hasattr(s, name)), None)
            if handler is None:
                raise LookupError(f"nothing serves the {self.context} command {name!r}")
            self.route(name, model, handler)

    @property
    def names(self) -> list[str]:
        return sorted(self._routes)

    def subjects(self, name: str) -> list[str]:
        """Where command ``name`` is served: the plain subject, and the hub-addressed one."""
        plain = command_subject(self.context, name)
        if self.ownership is None:
            return [plain]
        return [plain, hub_command_subject(self.ownership.hub, self.context, name)]

    async def start(self) -> None:
        self._served = {subject for name in self._routes for subject in self.subjects(name)}
        for name in self._routes:
            for subject in self.subjects(name):
                self._subs.append(
                    await self._nc.subscribe(
                        subject, queue=self.context, cb=self._receive, pending_msgs_limit=100_000
                    )
                )
        await barrier(self._nc)  # the server knows our interest before start() returns

    async def stop(self) -> None:
        """Stop taking commands and let the ones under way finish."""
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _receive(self, msg: Msg) -> None:
        if msg.subject not in self._served or (msg.headers and H_STORED_STREAM in msg.headers):
            # a stored message, not a client's command: the server answered someone's request
            # (a pull, a direct get) onto our subject, as it checks no right on reply subjects
            # (vhub/natsaccounts.py); a pull keeps the event's subject, a direct get adds headers
            log.warning("command_not_from_a_client", context=self.context)
            return
        await self._slots.acquire()
        task = asyncio.create_task(self._serve(msg))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _serve(self, msg: Msg) -> None:
        name = msg.subject.rsplit(".", 1)[-1]
        started = time.perf_counter()
        try:
            reply: Reply = await self.dispatch(name, msg.data)
        except Exception:  # dispatch answers every failure it knows of; this is the last net
            log.exception("command_failed", command=name)
            reply = Refused(code="internal_error", reason=INTERNAL_REASON)
        outcome = "accepted" if reply.accepted else reply.code
        self._counter(name, outcome).inc()
        self.served += 1
        self._timer(name).observe(time.perf_counter() - started)
        if msg.reply:
            try:  # encode_reply bounds the size: an oversize publish would close our connection
                await self._nc.publish(msg.reply, encode_reply(reply))
            except Exception:
                log.exception("reply_not_sent", command=name)

    # prometheus' labels() validates, locks and hashes on every call: the children are kept (the
    # names are the routes', the outcomes the refusal codes: both few)
    def _counter(self, name: str, outcome: str) -> Any:
        child = self._counters.get((name, outcome))
        if child is None:
            child = self._counters[name, outcome] = COMMANDS.labels(self.context, name, outcome)
        return child

    def _timer(self, name: str) -> Any:
        child = self._timers.get(name)
        if child is None:
            child = self._timers[name] = COMMAND_SECONDS.labels(self.context, name)
        return child

    async def dispatch(self, name: str, raw: bytes) -> Reply:
        """Parse, validate and run one command; every failure becomes a typed refusal."""
        route = self._routes.get(name)
        if route is None:
            return Refused(code="unknown_command", reason=f"no command {name!r} in {self.context}")
        try:
            body = decode_object(raw)
        except BadBody as err:
            return Refused(code="invalid_command", reason=err.reason)
        try:
            command = route.model.model_validate(body)
        except ValidationError as err:
            return invalid(err, route.model)
        ctx = CommandContext(
            command_id=command.command_id or new_command_id(),
            correlation_id=command.correlation_id or command.command_id or new_command_id(),
            actor=command.actor or "anonymous",
            received_at=self._clock(),
        )
        structlog.contextvars.bind_contextvars(correlation_id=ctx.correlation_id)
        try:
            if self.ownership is not None:
                self.ownership.refuse_foreign(command, context=self.context, name=name)
            return await route.handler(command, ctx)
        except Rejected as rej:
            log.info("command_rejected", command=name, code=rej.code)
            return Refused(code=rej.code, reason=rej.reason, details=dict(rej.details))
        except Exception:
            log.exception("command_failed", command=name)
            return Refused(code="internal_error", reason=INTERNAL_REASON)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id")
