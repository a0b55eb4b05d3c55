"""Dispatch's own projection: registry facts (teams, members, service points, border communes) and
its own shifts and coverage requests, fed by a durable consumer. Dispatch never calls the registry.

The projection lives in memory and its checkpoint (the last stream sequence applied) with it, so a
start replays the filtered log from sequence 1 (``DurableConsumer.ensure(0)`` recreates a consumer
that is ahead); a redelivered event at or below the checkpoint is skipped. The filter leaves out
volunteer subjects, so personal data never reaches this process.

It also derives over-capacity conflicts (more active dispatches at a point on a date than its
coverage requests asked for). Each finding is a pure function of the log prefix, and is appended
with a command id derived from the dispatch, so replays, restarts and several instances record
each conflict once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import structlog
from nats.aio.msg import Msg

from services.dispatch.domain.evolve import evolve_coverage
from services.dispatch.domain.model import Coverage, PointView, TeamView, point_day_id
from shared.envelope import H_EVENT_TYPE, Envelope, event_subject
from shared.events import Event
from shared.events.dispatch import (
    CONTEXT,
    CoverageRequested,
    DayClosed,
    DispatchCancelled,
    OverCapacityRecorded,
    TeamDispatched,
)
from shared.events.registry import (
    BorderCommunesDesignated,
    ServicePointRegistered,
    TeamDisbanded,
    TeamFormed,
    TeamMemberAdded,
    TeamMemberRemoved,
)
from shared.metrics import CONSUMER_POSITION
from shared.upcast import UnknownEventError, decode

log = structlog.get_logger(__name__)
APPLIED = frozenset(
    e.event_type
    for e in (
        TeamFormed,
        TeamMemberAdded,
        TeamMemberRemoved,
        TeamDisbanded,
        ServicePointRegistered,
        BorderCommunesDesignated,
        TeamDispatched,
        DispatchCancelled,
        CoverageRequested,
        OverCapacityRecorded,
        DayClosed,
    )
)
Findings = Callable[[list[OverCapacityRecorded]], Awaitable[None]]


def filter_subjects(hub: str) -> list[str]:
    reg = "registry"
    return [
        event_subject(hub, reg, "team", "*"),
        event_subject(hub, reg, "service_point", "*"),
        event_subject(hub, reg, "campaign", "*"),
        f"vhub.evt.{hub}.{CONTEXT}.>",
    ]


@dataclass
class PointDay:
    requested: int = 0
    active: set[str] = field(default_factory=set)


@dataclass
class FactsView:
    """The tables, in memory. ``apply`` is synchronous and does no I/O."""

    teams: dict[str, TeamView] = field(default_factory=dict)
    points: dict[str, PointView] = field(default_factory=dict)
    border_communes: set[str] = field(default_factory=set)
    # active shifts only, as (team, starts, ends): what suggestions need, small enough to keep all
    shifts: dict[str, tuple[str, datetime, datetime]] = field(default_factory=dict)
    coverage: dict[str, Coverage] = field(default_factory=dict)
    point_days: dict[str, PointDay] = field(default_factory=dict)
    closed_days: set[date] = field(default_factory=set)
    position: int = 0

    def recorded(self, finding: OverCapacityRecorded) -> bool:
        cov = self.coverage.get(point_day_id(finding.service_point_id, finding.date))
        return cov is not None and finding.dispatch_id in cov.over_capacity

    def over_capacity(self, point_id: str, day: date, dispatch_id: str) -> list[dict[str, Any]]:
        """An advisory warning when this dispatch takes a point-day over what it requested."""
        counts = self.point_days.get(point_day_id(point_id, day))
        if counts is None or counts.requested == 0:
            return []
        dispatched = len(counts.active - {dispatch_id}) + 1
        if dispatched <= counts.requested:
            return []
        reason = "more teams than requested at this point on this date: recorded as a conflict"
        return [
            {
                "code": "over_capacity",
                "requested": counts.requested,
                "dispatched": dispatched,
                "reason": reason,
            }
        ]

    def busy(self) -> dict[str, list[tuple[datetime, datetime]]]:
        out: dict[str, list[tuple[datetime, datetime]]] = {}
        for team_id, starts_at, ends_at in self.shifts.values():
            out.setdefault(team_id, []).append((starts_at, ends_at))
        return out

    def apply(self, seq: int, ev: Event) -> list[OverCapacityRecorded]:
        self.position = max(self.position, seq)
        if isinstance(ev, TeamFormed):
            self.teams[ev.team_id] = TeamView(ev.team_id, ev.province_code, ev.commune_code, ev.focus)
        elif isinstance(ev, TeamMemberAdded | TeamMemberRemoved | TeamDisbanded):
            team = self.teams.get(ev.team_id)
            if team is not None:
                self.teams[ev.team_id] = _team_after(team, ev)
        elif isinstance(ev, ServicePointRegistered):
            self.points[ev.service_point_id] = PointView(
                ev.service_point_id, ev.province_code, ev.commune_code, ev.kind
            )
        elif isinstance(ev, BorderCommunesDesignated):
            self.border_communes.update(ev.commune_codes)
        elif isinstance(ev, DayClosed):
            self.closed_days.add(ev.date)
        else:
            return self._dispatch_fact(ev)
        return []

    def _dispatch_fact(self, ev: Event) -> list[OverCapacityRecorded]:
        if isinstance(ev, CoverageRequested | OverCapacityRecorded):
            key = point_day_id(ev.service_point_id, ev.date)
            self.coverage[key] = evolve_coverage(self.coverage.get(key, Coverage()), ev)
            if isinstance(ev, CoverageRequested):
                self.point_days.setdefault(key, PointDay()).requested += ev.teams_needed
            return []
        if isinstance(ev, TeamDispatched):
            self.shifts[ev.dispatch_id] = (ev.team_id, ev.starts_at, ev.ends_at)
            day = self.point_days.setdefault(point_day_id(ev.service_point_id, ev.date), PointDay())
            day.active.add(ev.dispatch_id)
            if 0 < day.requested < len(day.active):
                return [
                    OverCapacityRecorded(
                        service_point_id=ev.service_point_id,
                        province_code=ev.province_code,
                        commune_code=ev.commune_code,
                        date=ev.date,
                        dispatch_id=ev.dispatch_id,
                        requested=day.requested,
                        dispatched=len(day.active),
                    )
                ]
        elif isinstance(ev, DispatchCancelled):
            self.shifts.pop(ev.dispatch_id, None)
            key = point_day_id(ev.service_point_id, ev.date)
            self.point_days.setdefault(key, PointDay()).active.discard(ev.dispatch_id)
        return []


def _team_after(team: TeamView, ev: TeamMemberAdded | TeamMemberRemoved | TeamDisbanded) -> TeamView:
    if isinstance(ev, TeamMemberAdded):
        return replace(team, members=team.members | {ev.volunteer_id})
    if isinstance(ev, TeamMemberRemoved):
        return replace(team, members=team.members - {ev.volunteer_id})
    return replace(team, disbanded=True)


class FactsProjection:
    """Applies consumer batches to a :class:`FactsView` and records the findings they produce."""

    def __init__(self, name: str, view: FactsView, on_findings: Findings) -> None:
        self.view = view
        self.name = name
        self._on_findings = on_findings
        self._pending: list[OverCapacityRecorded] = []
        self._changed = asyncio.Condition()

    async def handle(self, msgs: list[Msg]) -> None:
        """The consumer's batch handler: apply what is new, then record pending findings."""
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            if seq <= self.view.position:
                continue  # redelivered: already applied
            event_type = (msg.headers or {}).get(H_EVENT_TYPE)
            if event_type is not None and event_type not in APPLIED:
                self.view.position = seq  # check-ins, reports…: nothing here depends on them
                continue
            try:
                ev = decode(Envelope.from_bytes(msg.data))
            except (UnknownEventError, ValueError) as err:
                # the error's text may quote the payload: log its kind only
                log.warning("fact_skipped", subject=msg.subject, seq=seq, error=type(err).__name__)
                self.view.position = seq
                continue
            self._pending.extend(self.view.apply(seq, ev))
        CONSUMER_POSITION.labels(self.name).set(self.view.position)
        async with self._changed:
            self._changed.notify_all()
        self._pending = [f for f in self._pending if not self.view.recorded(f)]  # replayed
        if self._pending:
            await self._on_findings(self._pending)  # raises: the batch is nak'd, retried later
            self._pending = []

    async def wait_for(self, position: int, within: float) -> bool:
        """Wait until the projection has applied ``position``; False when the deadline passes."""
        return await self.wait_until(lambda view: view.position >= position, within)

    async def wait_until(self, ready: Callable[[FactsView], bool], within: float) -> bool:
        """Wait until ``ready(view)`` holds after a batch; False when the deadline passes."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: ready(self.view)), within)
            except TimeoutError:
                return False
        return True
