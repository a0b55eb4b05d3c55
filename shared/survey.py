"""Who is running, and how well: the ``$SRV`` answers of every instance, turned into status rows.

One request on ``$SRV.STATS`` reaches every vhub instance the connection's account can see: the
local server's, and through leaf-node links every hub's and central's (shared/discovery.py answers
it). Two surveys some seconds apart give the rates (commands/s, error rate); a service that is
expected and answers nowhere is a row of its own. Used by ``vhub status`` and any dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

EXPECTED = ("registry", "dispatch", "reporting")


async def gather(
    nc: Client, subject: str = "$SRV.STATS", *, within: float = 2.0, quiet: float = 0.3
) -> list[dict[str, Any]]:
    """Every answer to one request on ``subject``: collected until ``quiet`` seconds pass without a
    new one after the first (instances at remote hubs answer a round trip later), at most
    ``within`` seconds."""
    answers: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def collect(msg: Msg) -> None:
        with contextlib.suppress(ValueError):  # something that is not a $SRV answer: not ours
            answers.append(json.loads(msg.data))
        arrived.set()

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=collect)
    try:
        await nc.publish(subject, b"", reply=inbox)
        deadline = time.monotonic() + within
        wait = within
        while wait > 0:
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), wait)
            except TimeoutError:
                break
            wait = min(quiet, deadline - time.monotonic())
    finally:
        await sub.unsubscribe()
    return answers


@dataclass(frozen=True)
class Instance:
    """One instance's STATS answer, in the terms of the status table."""

    service: str
    id: str
    hub: str
    instance: str
    version: str
    started: datetime
    requests: int
    errors: int
    healthy: bool
    reasons: list[str]
    lag: int | None
    dead_letters: int

    @classmethod
    def of(cls, stats: dict[str, Any]) -> Instance:
        meta = stats.get("metadata") or {}
        own = stats.get("vhub") or {}
        lags = [c["lag"] for c in (own.get("consumers") or {}).values() if c.get("lag", -1) >= 0]
        endpoints = stats.get("endpoints") or []
        return cls(
            service=stats["name"],
            id=stats["id"],
            hub=meta.get("hub", "?"),
            instance=meta.get("instance", "?"),
            version=stats.get("version", "?"),
            started=datetime.strptime(stats["started"][:23], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC),
            requests=sum(int(e.get("num_requests", 0)) for e in endpoints),
            errors=sum(int(e.get("num_errors", 0)) for e in endpoints),
            healthy=bool(own.get("healthy", True)),
            reasons=list(own.get("reasons") or []),
            lag=max(lags) if lags else None,
            dead_letters=sum((own.get("dead_letters") or {}).values()),
        )


async def survey(nc: Client, *, within: float = 2.0, quiet: float = 0.3) -> list[Instance]:
    """The vhub instances that answer ``$SRV.STATS`` (other micro-services are left out)."""
    return [Instance.of(a) for a in await gather(nc, within=within, quiet=quiet) if "vhub" in a]


@dataclass(frozen=True)
class Row:
    """One line of ``vhub status``."""

    service: str
    hub: str
    instance: str
    id: str
    version: str
    uptime_s: float | None
    commands_per_s: float | None
    error_rate: float | None
    lag: int | None
    dead_letters: int | None
    healthy: bool
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rows(
    before: Sequence[Instance],
    after: Sequence[Instance],
    seconds: float,
    *,
    expected: Iterable[str] = EXPECTED,
    max_error_rate: float = 0.05,
    now: datetime | None = None,
) -> list[Row]:
    """Status rows from two surveys ``seconds`` apart: one per instance, one per expected service
    (``name`` or ``name@hub``) that has no instance, one per instance that stopped answering."""
    now = now or datetime.now(UTC)
    earlier = {i.id: i for i in before}
    out = [_row(i, earlier.get(i.id), seconds, max_error_rate, now) for i in after]
    seen = {i.id for i in after}
    for gone in before:
        if gone.id not in seen:
            out.append(_missing(gone.service, gone.hub, "stopped answering $SRV.STATS", gone))
    for want in expected:
        name, _, hub = want.partition("@")
        if not any(i.service == name and (not hub or i.hub == hub) for i in after):
            out.append(_missing(name, hub or "-", "no instance answers"))
    return sorted(out, key=lambda r: (r.service, r.hub, r.instance, r.id))


def _row(now_: Instance, then: Instance | None, seconds: float, max_error_rate: float, now: datetime) -> Row:
    if then is not None and seconds > 0:
        requests, errors = now_.requests - then.requests, now_.errors - then.errors
        rate: float | None = requests / seconds
    else:
        requests, errors, rate = now_.requests, now_.errors, None
    error_rate = errors / requests if requests > 0 else 0.0
    reasons = list(now_.reasons) or ([] if now_.healthy else ["reports itself unhealthy"])
    if error_rate > max_error_rate:
        reasons.append(f"{error_rate:.0%} of commands failed (internal errors)")
    return Row(
        service=now_.service,
        hub=now_.hub,
        instance=now_.instance,
        id=now_.id,
        version=now_.version,
        uptime_s=(now - now_.started).total_seconds(),
        commands_per_s=rate,
        error_rate=error_rate,
        lag=now_.lag,
        dead_letters=now_.dead_letters,
        healthy=not reasons,
        reason="; ".join(reasons),
    )


def _missing(service: str, hub: str, reason: str, last: Instance | None = None) -> Row:
    return Row(
        service=service,
        hub=hub,
        instance=last.instance if last else "-",
        id=last.id if last else "-",
        version=last.version if last else "-",
        uptime_s=None,
        commands_per_s=None,
        error_rate=None,
        lag=None,
        dead_letters=None,
        healthy=False,
        reason=reason,
    )
