"""Load → decide → append for dispatch's commands, through the shared write path (shared.transaction).

Each team's schedule (``vhub.evt.<hub>.dispatch.schedule.<team_id>``) is the aggregate that holds
its shifts, so "never two overlapping shifts" is decided against the schedule's version and holds
across any number of instances. Registry facts come from the in-memory projection; the facts a
decision needs are looked up first and handed to the pure ``decide`` functions.

One module past the ~250-line guide on purpose: it is the table of dispatch's command handlers,
each a few lines of load → decide → write, and reads best as one list beside the command table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import timedelta
from functools import partial
from typing import Any

import structlog

from services.dispatch.clock import Clock
from services.dispatch.domain import attendance, decide
from services.dispatch.domain import commands as c
from services.dispatch.domain.evolve import evolve_coverage, evolve_day, evolve_schedule
from services.dispatch.domain.model import (
    Coverage,
    Day,
    Policy,
    Request,
    Schedule,
    local_date,
    owner_of,
    point_day_id,
    scoped_id,
)
from services.dispatch.domain.suggest import suggest
from services.dispatch.facts import Cause, FactsView
from services.dispatch.snapshots import CompactIndex
from shared.aggregates import Aggregates, CommandContext, Outcome
from shared.commands import Accepted
from shared.decider import Rejected
from shared.envelope import derive_id
from shared.events import Event
from shared.events.dispatch import CONTEXT, OverCapacityRecorded, Source
from shared.events.registry import TeamDisbanded
from shared.transaction import Target, Writer

log = structlog.get_logger(__name__)


def _token(*parts: str) -> str:
    return derive_id(*parts).replace("-", "")


class DispatchService:
    """One per process; several processes share the command queue group."""

    def __init__(
        self, writer: Writer, view: FactsView, *, clock: Clock, policy: Policy, cache_size: int = 10_000
    ) -> None:
        store = writer.store
        self.hub = store.hub
        self.view = view
        self.clock = clock
        self.policy = policy
        self.writer = writer
        # every team's schedule stays cached: compact snapshots (services.dispatch.snapshots)
        common: dict[str, Any] = {"context": CONTEXT, "cache_size": cache_size, "index": CompactIndex}
        self.schedules = Aggregates[Schedule](
            store, aggregate="schedule", initial=Schedule, evolve=evolve_schedule, **common
        )
        self.coverage = Aggregates[Coverage](
            store, aggregate="coverage", initial=Coverage, evolve=evolve_coverage, **common
        )
        self.days = Aggregates[Day](store, aggregate="day", initial=Day, evolve=evolve_day, **common)

    async def write_schedule(
        self, team_id: str, ctx: CommandContext, rule: Callable[[Schedule], list[Event]]
    ) -> Outcome:
        """One team's schedule: decide ``rule`` on it and append, guarded by its version."""
        return await self.writer.write(ctx, Target(self.schedules, team_id), rule)

    # -- coverage --------------------------------------------------------------------------

    async def request_coverage(self, cmd: c.RequestCoverage, ctx: CommandContext) -> Accepted:
        key = point_day_id(cmd.service_point_id, cmd.date)
        request_id = scoped_id(key, _token(self.hub, ctx.command_id, "coverage"))
        point = self.view.points.get(cmd.service_point_id)
        outcome = await self.writer.write(
            ctx,
            Target(self.coverage, key),
            lambda s: decide.request_coverage(s, cmd, point=point, request_id=request_id, policy=self.policy),
        )
        return Accepted.of(outcome, result={"request_id": request_id})

    async def coverage_request(self, request_id: str) -> Request | None:
        """A coverage request as the log holds it (not the projection: no lag)."""
        key = owner_of(request_id)
        if key is None:
            return None
        return (await self.coverage.load(key)).state.requests.get(request_id)

    async def record_findings(
        self, findings: list[tuple[OverCapacityRecorded | TeamDisbanded, Cause]]
    ) -> None:
        """Record over-capacity conflicts (the dispatch id makes each one's command id), and cancel
        the shifts still ahead of a disbanded team (its id makes the command id). Each reaction
        keeps the correlation id of the event it comes from, and names that event as its cause
        (in its events and in its log lines)."""
        for finding, cause in findings:
            with structlog.contextvars.bound_contextvars(
                correlation_id=cause.correlation_id, causation_id=cause.event_id
            ):
                if isinstance(finding, TeamDisbanded):
                    await self.cancel_for_disbanded(finding.team_id, cause)
                    continue
                ctx = CommandContext(
                    command_id=f"over_capacity:{finding.dispatch_id}",
                    correlation_id=cause.correlation_id,
                    causation_id=cause.event_id,
                    actor="dispatch",
                    received_at=self.clock(),
                )
                key = point_day_id(finding.service_point_id, finding.date)
                rule = partial(attendance.record_over_capacity, finding=finding)
                await self.writer.write(ctx, Target(self.coverage, key), rule)
                log.info("over_capacity_recorded", dispatch_id=finding.dispatch_id)

    async def cancel_for_disbanded(self, team_id: str, cause: Cause) -> None:
        """A disbanded team works no more shifts: those not started by the time dispatch learns of
        it are cancelled, so close_day does not count them as no-shows."""
        now = self.clock()
        ctx = CommandContext(
            command_id=f"team_disbanded:{team_id}",
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
            actor="dispatch",
            received_at=now,
        )
        await self.write_schedule(team_id, ctx, lambda s: attendance.cancel_for_disbanded_team(s, now=now))
        log.info("disbanded_team_shifts_cancelled", team_id=team_id)

    # -- shifts ----------------------------------------------------------------------------

    async def dispatch_team(self, cmd: c.DispatchTeam, ctx: CommandContext) -> Accepted:
        dispatch_id = scoped_id(cmd.team_id, _token(self.hub, ctx.command_id, "dispatch"))
        team = self.view.teams.get(cmd.team_id)
        point = self.view.points.get(cmd.service_point_id)
        request = None
        if cmd.coverage_request_id is not None:
            request = await self.coverage_request(cmd.coverage_request_id)
        day = local_date(cmd.starts_at)
        closed = day in self.view.closed_days
        outcome = await self.write_schedule(
            cmd.team_id,
            ctx,
            lambda s: decide.dispatch_team(
                s,
                cmd,
                team=team,
                point=point,
                request=request,
                day_closed=closed,
                dispatch_id=dispatch_id,
                policy=self.policy,
            ),
        )
        return Accepted.of(
            outcome,
            warnings=self.view.over_capacity(cmd.service_point_id, day, dispatch_id),
            result={"dispatch_id": dispatch_id, "team_id": cmd.team_id, "date": day.isoformat()},
        )

    async def plan_rotation(self, cmd: c.PlanRotation, ctx: CommandContext) -> Accepted:
        days = max(0, min((cmd.to_date - cmd.from_date).days + 1, self.policy.max_rotation_days))
        rotation_id = _token(self.hub, ctx.command_id, "rotation")
        ids = [
            scoped_id(cmd.team_id, _token(self.hub, ctx.command_id, "rotation", str(n))) for n in range(days)
        ]
        team = self.view.teams.get(cmd.team_id)
        points = {p: self.view.points.get(p) for p in cmd.service_point_ids}
        outcome = await self.write_schedule(
            cmd.team_id,
            ctx,
            lambda s: decide.plan_rotation(
                s,
                cmd,
                team=team,
                points=points,
                rotation_id=rotation_id,
                dispatch_ids=ids,
                policy=self.policy,
            ),
        )
        plan = [
            {
                "dispatch_id": d,
                "date": (cmd.from_date + timedelta(days=n)).isoformat(),
                "service_point_id": cmd.service_point_ids[n % len(cmd.service_point_ids)],
            }
            for n, d in enumerate(ids)
        ]
        return Accepted.of(outcome, result={"rotation_id": rotation_id, "dispatches": plan})

    async def _on_shift(
        self, dispatch_id: str, ctx: CommandContext, rule: Callable[[Schedule], list[Event]]
    ) -> Accepted:
        team_id = owner_of(dispatch_id)
        if team_id is None:
            raise Rejected("unknown_dispatch", f"no dispatch {dispatch_id}")
        outcome = await self.write_schedule(team_id, ctx, rule)
        return Accepted.of(outcome, result={"dispatch_id": dispatch_id, "team_id": team_id})

    async def cancel_dispatch(self, cmd: c.CancelDispatch, ctx: CommandContext) -> Accepted:
        return await self._on_shift(cmd.dispatch_id, ctx, lambda s: attendance.cancel_dispatch(s, cmd))

    async def check_in(self, cmd: c.CheckIn, ctx: CommandContext) -> Accepted:
        now = self.clock()
        return await self._on_shift(
            cmd.dispatch_id, ctx, lambda s: attendance.check_in(s, cmd, now=now, policy=self.policy)
        )

    async def check_out(self, cmd: c.CheckOut, ctx: CommandContext) -> Accepted:
        now = self.clock()
        return await self._on_shift(
            cmd.dispatch_id, ctx, lambda s: attendance.check_out(s, cmd, now=now, policy=self.policy)
        )

    async def report_activity(
        self, cmd: c.ReportActivity, ctx: CommandContext, source: Source = "command"
    ) -> Accepted:
        return await self._on_shift(
            cmd.dispatch_id,
            ctx,
            lambda s: attendance.report_activity(s, cmd, policy=self.policy, source=source),
        )

    async def correct_field_report(self, cmd: c.CorrectFieldReport, ctx: CommandContext) -> Accepted:
        return await self._on_shift(
            cmd.dispatch_id, ctx, lambda s: attendance.correct_field_report(s, cmd, policy=self.policy)
        )

    async def suggest_teams(self, cmd: c.SuggestTeams, ctx: CommandContext) -> Accepted:
        """A query: nothing is written; ``version`` is the projection's position."""
        request = await self.coverage_request(cmd.request_id)
        if request is None:
            raise Rejected("unknown_coverage_request", f"no coverage request {cmd.request_id}")
        ranking = suggest(
            request,
            self.view.teams.values(),
            busy=self.view.busy(),
            border_communes=frozenset(self.view.border_communes),
            limit=cmd.limit,
        )
        return Accepted(
            aggregate_id=cmd.request_id,
            version=self.view.position,
            result={
                "request_id": request.request_id,
                "service_point_id": request.service_point_id,
                "date": request.date.isoformat(),
                "border_commune": ranking.border_commune,
                "suggestions": [asdict(s) for s in ranking.suggestions],
                "excluded": dict(ranking.excluded),
            },
        )

    def sub_context(self, ctx: CommandContext, part: str) -> CommandContext:
        """The context of one step of a command that writes to several aggregates."""
        return replace(ctx, command_id=f"{ctx.command_id}:{part}", causation_id=ctx.command_id)
