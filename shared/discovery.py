"""Service discovery: every instance answers the NATS micro-service protocol (``$SRV``).

``$SRV.PING``, ``$SRV.INFO`` and ``$SRV.STATS`` (each also as ``$SRV.<verb>.<name>`` and
``$SRV.<verb>.<name>.<id>``) get the answers nats.micro's schema defines (``io.nats.micro.v1.*``),
so ``nats micro ls`` / ``nats micro stats registry`` of the NATS CLI list vhub's instances, and
``vhub status`` finds every instance at every hub through one NATS URL. Metadata carries the hub
and the instance name; STATS adds a ``vhub`` object: readiness, the reasons an instance is not
healthy, its consumers' lag and position, and its dead letters.

Why beside the command bus and not through ``nats.micro`` endpoints: a nats.micro endpoint awaits
its handler inside the subscription's callback, one request at a time per subscription, while the
bus (shared/commands.py) runs each command in a task of its own: routed through nats.micro the
commands of a replica would be served one after the other. So the bus keeps its subscriptions,
and the endpoint figures come from the counters it already keeps (``vhub_commands_total`` and
``vhub_command_seconds``, read through prometheus_client's collect()); this module only answers
the three control verbs, off the command path. The cost measured on the command path is in
docs/operating.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.micro.service import (
    EndpointInfo,
    EndpointStats,
    ServiceInfo,
    ServicePing,
    ServiceStats,
    ServiceVerb,
    control_subject,
)
from nats.nuid import NUID

from shared.commands import CommandBus
from shared.envelope import command_subject
from shared.metrics import command_outcomes, command_seconds, consumer_gauges, dead_letter_counts
from shared.runtime import Readiness, instance_name
from shared.settings import Settings

log = structlog.get_logger(__name__)
# outcomes that are the service's fault; refusals (invalid input, business rules) are answers
ERROR_OUTCOMES = frozenset({"internal_error"})


def vhub_version() -> str:
    """The installed vhub's version (semver, as the protocol requires)."""
    try:
        return version("vhub")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0"


@dataclass(frozen=True)
class Endpoint:
    """One command subject as the protocol names it."""

    name: str
    subject: str
    queue_group: str


class Commands:
    """The endpoints of a command bus and their figures (from the bus's Prometheus counters)."""

    def __init__(self, context: str, names: Sequence[str]) -> None:
        self.context = context
        self.endpoints = [Endpoint(n, command_subject(context, n), context) for n in names]

    def stats(self) -> list[EndpointStats]:
        outcomes, seconds = command_outcomes(self.context), command_seconds(self.context)
        out = []
        for ep in self.endpoints:
            counts = outcomes.get(ep.name, {})
            requests = sum(counts.values())
            errors = sum(n for outcome, n in counts.items() if outcome in ERROR_OUTCOMES)
            spent = int(seconds.get(ep.name, 0.0) * 1e9)
            out.append(
                EndpointStats(
                    name=ep.name,
                    subject=ep.subject,
                    queue_group=ep.queue_group,
                    num_requests=requests,
                    num_errors=errors,
                    processing_time=spent,
                    average_processing_time=spent // requests if requests else 0,
                    last_error="",
                    data={"outcomes": counts, "refused": requests - counts.get("accepted", 0) - errors},
                )
            )
        return out


class Discovery:
    """Answers ``$SRV`` PING/INFO/STATS for one service instance."""

    def __init__(
        self,
        nc: Client,
        *,
        name: str,
        hub: str,
        instance: str,
        description: str = "",
        commands: Commands | None = None,
        readiness: Readiness | None = None,
        max_lag: int = 1_000,
    ) -> None:
        self._nc = nc
        self.name = name
        self.id = NUID().next().decode()
        self.version = vhub_version()
        self.metadata = {"hub": hub, "instance": instance}
        self._description = description
        self._commands = commands
        self._readiness = readiness
        self._max_lag = max_lag
        self.started = datetime.now(UTC)
        self._subs: list[Subscription] = []

    async def start(self) -> None:
        answers = {ServiceVerb.PING: self._ping, ServiceVerb.INFO: self._info, ServiceVerb.STATS: self._stats}
        for verb, answer in answers.items():
            for name, sid in ((None, None), (self.name, None), (self.name, self.id)):
                subject = control_subject(verb, name=name, id=sid)
                self._subs.append(await self._nc.subscribe(subject, cb=answer))
        # flush, not shared.runtime.barrier: that publishes to our own inbox, which a read-only
        # service user (reporting) may not; an answer missed in the first milliseconds is harmless
        await self._nc.flush()
        log.info("discovery_started", service=self.name, id=self.id)

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs.clear()

    def ping(self) -> dict[str, Any]:
        return ServicePing(id=self.id, name=self.name, version=self.version, metadata=self.metadata).to_dict()

    def info(self) -> dict[str, Any]:
        endpoints = self._commands.endpoints if self._commands else []
        return ServiceInfo(
            name=self.name,
            id=self.id,
            version=self.version,
            description=self._description,
            endpoints=[EndpointInfo(e.name, e.subject, e.queue_group, {}) for e in endpoints],
            metadata=self.metadata,
        ).to_dict()

    async def stats(self) -> dict[str, Any]:
        body = ServiceStats(
            id=self.id,
            name=self.name,
            version=self.version,
            started=self.started.replace(tzinfo=None),  # nats.micro formats a naive UTC time
            endpoints=self._commands.stats() if self._commands else [],
            metadata=self.metadata,
        ).to_dict()
        body["vhub"] = await self.health()
        return body

    async def health(self) -> dict[str, Any]:
        """Readiness, consumers, dead letters, and why this instance is not healthy (if so)."""
        ready, detail = await self._readiness() if self._readiness else (True, {})
        consumers = consumer_gauges(self.name)
        reasons = [] if ready else [f"not ready: {_compact(detail)}"]
        if not self._nc.is_connected:
            reasons.append("not connected to NATS")
        for durable, figures in sorted(consumers.items()):
            if figures.get("lag", 0) > self._max_lag:
                reasons.append(f"consumer {durable} is {figures['lag']} events behind")
        return {
            "healthy": not reasons,
            "reasons": reasons,
            "ready": ready,
            "readiness": detail,
            "consumers": consumers,
            "dead_letters": dead_letter_counts(self.name),
        }

    async def _ping(self, msg: Msg) -> None:
        await self._answer(msg, self.ping())

    async def _info(self, msg: Msg) -> None:
        await self._answer(msg, self.info())

    async def _stats(self, msg: Msg) -> None:
        await self._answer(msg, await self.stats())

    async def _answer(self, msg: Msg, body: dict[str, Any]) -> None:
        if msg.reply:
            await self._nc.publish(msg.reply, json.dumps(body, default=str).encode())


def _compact(detail: dict[str, Any]) -> str:
    """The scalar fields of a readiness detail, ``k=v`` (nested ones flattened with dots)."""
    parts: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}{k}.", v)
        elif isinstance(value, bool | int | float | str):
            parts.append(f"{prefix[:-1]}={value}")

    walk("", detail)
    return ", ".join(parts) or "no detail"


def discovery_for(
    nc: Client,
    settings: Settings,
    name: str,
    *,
    bus: CommandBus | None = None,
    readiness: Readiness | None = None,
    description: str = "",
) -> Discovery:
    """The ``$SRV`` responder of this instance of service ``name`` (built by a composition root,
    started by its ``start()``; it answers until ``nc`` drains). ``bus``: the command bus, once
    it has its routes."""
    return Discovery(
        nc,
        name=name,
        hub=settings.hub,
        instance=instance_name(settings),
        description=description,
        commands=Commands(bus.context, bus.names) if bus else None,
        readiness=readiness,
        max_lag=settings.readiness_max_lag,
    )
