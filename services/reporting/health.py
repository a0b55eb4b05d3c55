"""Service health for operators, from service discovery: ``GET /services`` and the dashboard.

Every ``every_s`` seconds reporting asks ``$SRV.STATS`` (shared/survey.py, as ``vhub status``
does): one request reaches every vhub instance its NATS account can see, at its own hub and,
through the leaf links, at every other. Two surveys give the rates; an expected service with no
instance, or an instance that stopped answering, is a row of its own with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime

import nats.errors
import structlog
from fastapi import APIRouter
from nats.aio.client import Client
from pydantic import BaseModel, Field

from shared.envelope import utcnow
from shared.survey import Instance, Row, rows, survey

log = structlog.get_logger(__name__)


class ServiceHealth:
    """The latest status rows (:attr:`rows`, ``surveyed_at``), refreshed by :meth:`run`."""

    def __init__(self, nc: Client, *, every_s: float = 5.0, within_s: float = 1.0) -> None:
        self._nc = nc
        self.every_s = every_s
        self._within = within_s
        self._last: list[Instance] = []
        self._at = 0.0
        self.rows: list[Row] = []
        self.surveyed_at: datetime | None = None

    async def sample(self) -> None:
        try:
            found = await survey(self._nc, within=self._within)
        except nats.errors.Error as err:  # no connection now: keep the last rows, say when they were
            log.warning("service_survey_failed", error=type(err).__name__)
            return
        now = time.monotonic()
        self.rows = rows(self._last, found, now - self._at if self._last else 0.0)
        self._last, self._at, self.surveyed_at = found, now, utcnow()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)


class ServiceRow(BaseModel):
    """One instance (or one expected service that has none), as ``vhub status`` shows it."""

    service: str
    hub: str
    instance: str
    id: str
    version: str
    uptime_s: float | None
    commands_per_s: float | None = Field(description="since the previous survey; null on the first")
    error_rate: float | None
    lag: int | None
    dead_letters: int | None
    healthy: bool
    reason: str = Field(description="why it is not healthy; empty when it is")


class Services(BaseModel):
    """Every vhub instance that answered ``$SRV.STATS``, at every hub this reporting can see."""

    surveyed_at: str | None = Field(description="ISO 8601; null before the first survey")
    healthy: bool = Field(description="every row healthy")
    items: list[ServiceRow]


def services_out(health: ServiceHealth) -> Services:
    items = [ServiceRow(**{k: v for k, v in r.as_dict().items() if k != "extra"}) for r in health.rows]
    at = health.surveyed_at.isoformat() if health.surveyed_at else None
    return Services(surveyed_at=at, healthy=all(r.healthy for r in items) and bool(items), items=items)


def services_router(health: ServiceHealth) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/services", response_model=Services)
    async def services() -> Services:
        """Health of every service instance at every hub, from service discovery (``$SRV``)."""
        return services_out(health)

    return router
