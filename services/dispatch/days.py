"""``close_day``: every dispatch of a date not checked in becomes a no-show, exactly once.

The teams to visit come from the log itself (the stream's schedule subjects), not from the
projection, so a dispatch recorded a moment ago is not missed. Each team's schedule decides its own
no-shows (only a still "scheduled" shift is marked, so a retry or a restart mid-way marks nothing
twice), then the hub's day aggregate records ``DayClosed`` with the day's total, once.
"""

from __future__ import annotations

import asyncio
from datetime import date

import structlog
from nats.js import JetStreamContext

from services.dispatch import messages as m
from services.dispatch.domain import attendance
from services.dispatch.domain.model import Day
from services.dispatch.service import DispatchService
from shared.aggregates import CommandContext
from shared.commands import Accepted
from shared.envelope import event_subject
from shared.events.dispatch import CONTEXT

log = structlog.get_logger(__name__)


class DayClosing:
    def __init__(
        self, service: DispatchService, js: JetStreamContext, stream: str, concurrency: int = 32
    ) -> None:
        self._svc = service
        self._js = js
        self._stream = stream
        self._slots = asyncio.Semaphore(concurrency)

    async def scheduled_teams(self) -> list[str]:
        """Every team that has a schedule on this hub (one subject each)."""
        prefix = event_subject(self._svc.hub, CONTEXT, "schedule", "")
        info = await self._js.stream_info(self._stream, subjects_filter=f"{prefix}*")
        return sorted(s.removeprefix(prefix) for s in (info.state.subjects or {}))

    async def _close_team(self, team_id: str, day: date, ctx: CommandContext) -> tuple[int, int]:
        """(marked by this call, no-shows of the day in total) for one team."""
        svc = self._svc
        async with self._slots:
            outcome = await svc.schedules.execute(
                team_id, svc.sub_context(ctx, team_id), lambda s: attendance.mark_no_shows(s, day)
            )
            snap = await svc.schedules.load(team_id)
        total = sum(1 for s in snap.state.on(day) if s.status == "no_show")
        return (0 if outcome.duplicate else len(outcome.events)), total

    async def close_day(self, cmd: m.CloseDay, ctx: CommandContext) -> Accepted:
        svc = self._svc
        svc.handled += 1
        now = svc.clock()
        attendance.close_day(Day(), cmd.date, hub=svc.hub, no_shows=0, now=now, policy=svc.policy)
        teams = await self.scheduled_teams()
        counts = await asyncio.gather(*(self._close_team(t, cmd.date, ctx) for t in teams))
        marked = sum(c[0] for c in counts)
        no_shows = sum(c[1] for c in counts)
        key = cmd.date.isoformat()
        before = await svc.days.load(key)
        outcome = await svc.days.execute(
            key,
            svc.sub_context(ctx, "day"),
            lambda s: attendance.close_day(
                s, cmd.date, hub=svc.hub, no_shows=no_shows, now=now, policy=svc.policy
            ),
        )
        log.info("day_closed", date=key, teams=len(teams), marked=marked, no_shows=no_shows)
        return Accepted.of(
            outcome,
            result={
                "date": key,
                "no_shows": no_shows,
                "marked_now": marked,
                "teams": len(teams),
                "already_closed": before.state.closed,
            },
        )
