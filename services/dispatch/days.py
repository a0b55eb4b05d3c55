"""``close_day``: every dispatch of a date not checked in becomes a no-show, exactly once.

Which teams to visit comes from the projection, once it has caught up with the log: the last
schedule event recorded when the command arrives (``EventStore.last`` over ``dispatch.schedule.*``,
one direct get) must have been applied first, so a dispatch recorded a moment ago is not missed.
Only the teams with a dispatch of that date still merely scheduled are visited (at campaign scale
a few dozen, not every team of the hub), by a bounded pool of workers. Each team's
schedule still decides its own no-shows (only a still "scheduled" shift is marked, under the
schedule's expected version, so a retry, a restart mid-way or a second replica marks nothing
twice). The day's total is then read from the projection once it has applied every schedule
version this command saw, and the hub's day aggregate records ``DayClosed`` with it, once.

Then the day's figures are published on the same aggregate, once: ``DayFiguresPublished`` with the
figures as the projection counted them when it applied the ``DayClosed`` (the dispatch facts
before the close in log order, as reporting counts them), so a fact arriving between the close and
the publication is a restatement like any later one, never folded into the published figures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date

import structlog

from services.dispatch.domain import attendance
from services.dispatch.domain import commands as c
from services.dispatch.domain.model import Day
from services.dispatch.facts import FactsProjection
from services.dispatch.service import DispatchService
from shared.aggregates import CommandContext
from shared.commands import Accepted
from shared.envelope import event_subject
from shared.events.dispatch import CONTEXT, PlaceFigures
from shared.eventstore import EventStore
from shared.transaction import Target

log = structlog.get_logger(__name__)


class ProjectionBehindError(Exception):
    """The projection did not reach the log's position in time (the command is safe to resend)."""


class DayClosing:
    def __init__(
        self,
        service: DispatchService,
        store: EventStore,
        projection: FactsProjection,
        *,
        workers: int = 8,
        catch_up_s: float = 30.0,
    ) -> None:
        self._svc = service
        self._store = store
        self._projection = projection
        self._workers = workers
        self._catch_up_s = catch_up_s

    async def last_schedule_seq(self) -> int:
        """The stream sequence of the hub's latest schedule event (0: none yet)."""
        last = await self._store.last(event_subject(self._svc.hub, CONTEXT, "schedule", "*"))
        return 0 if last is None else last[0].seq

    async def _caught_up(self, position: int) -> None:
        if not await self._projection.wait_for(position, self._catch_up_s):
            raise ProjectionBehindError(
                f"the facts projection is at {self._projection.view.position}, the log at {position}"
            )

    async def _close_team(self, team_id: str, day: date, ctx: CommandContext) -> tuple[int, int]:
        """(no-shows this call marked, the schedule's version after it) for one team."""
        svc = self._svc
        outcome = await svc.write_schedule(
            team_id, svc.sub_context(ctx, team_id), lambda s: attendance.mark_no_shows(s, day)
        )
        return (0 if outcome.duplicate else len(outcome.events)), outcome.version

    async def _close_teams(self, teams: list[str], day: date, ctx: CommandContext) -> tuple[int, int]:
        """Visit ``teams`` with a few workers (never a task per team): (marked, highest version)."""
        todo: Iterator[str] = iter(teams)
        marked, seen = 0, 0

        async def worker() -> None:
            nonlocal marked, seen
            for team_id in todo:  # shared iterator: each team goes to one worker
                n, version = await self._close_team(team_id, day, ctx)
                marked += n
                seen = max(seen, version)

        await asyncio.gather(*(worker() for _ in range(min(self._workers, len(teams)))))
        return marked, seen

    async def _published_figures(self, day: date, closed_at: int) -> list[PlaceFigures]:
        """The day's figures as the projection counted them at its ``DayClosed`` (at or below
        ``closed_at``, the day aggregate's version)."""
        await self._caught_up(closed_at)
        places = self._projection.view.tally.published(day)
        if places is None:  # the close is in the log, so the caught-up projection has applied it
            raise ProjectionBehindError(f"the facts projection has not applied the close of {day}")
        return places

    async def close_day(self, cmd: c.CloseDay, ctx: CommandContext) -> Accepted:
        svc = self._svc
        now = svc.clock()
        attendance.close_day(Day(), cmd.date, hub=svc.hub, no_shows=0, now=now, policy=svc.policy)
        logged = await self.last_schedule_seq()
        await self._caught_up(logged)
        teams = self._projection.view.open_teams(cmd.date)
        marked, seen = await self._close_teams(teams, cmd.date, ctx)
        await self._caught_up(max(logged, seen))  # every no-show of the day is applied by now
        no_shows = self._projection.view.no_shows_on(cmd.date)
        key = cmd.date.isoformat()
        before = await svc.days.load(key)
        outcome = await svc.writer.write(
            svc.sub_context(ctx, "day"),
            Target(svc.days, key),
            lambda s: attendance.close_day(
                s, cmd.date, hub=svc.hub, no_shows=no_shows, now=now, policy=svc.policy
            ),
        )
        places = await self._published_figures(cmd.date, outcome.version)
        published = await svc.writer.write(
            svc.sub_context(ctx, "publish"),
            Target(svc.days, key),
            lambda s: attendance.publish_day(s, cmd.date, hub=svc.hub, places=places),
        )
        log.info("day_closed", date=key, teams=len(teams), marked=marked, no_shows=no_shows)
        reply = Accepted.of(
            published,
            result={
                "date": key,
                "no_shows": no_shows,
                "marked_now": marked,
                "teams": len(teams),
                "already_closed": before.state.closed,
                "published_places": len(places),
            },
        )
        both = [*Accepted.of(outcome).events, *reply.events]  # the close's and the publication's
        return reply.model_copy(update={"events": both, "duplicate": outcome.duplicate})
