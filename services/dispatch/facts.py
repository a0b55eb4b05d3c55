"""Dispatch's own projection: registry facts (teams, members, service points, border communes) and
its own shifts and coverage requests, fed by a :class:`shared.projection.ProjectionRunner` on a
consumer of its own per replica. Dispatch never calls the registry.

The projection lives in memory and its checkpoint (the last stream sequence applied) with it, so a
start replays the filtered log from sequence 1 (the runner recreates a consumer that is ahead);
the runner skips a redelivered event at or below the checkpoint, and the types nothing here reads.
The filter leaves out volunteer subjects, so personal data never reaches this process.

It also derives over-capacity conflicts (more active dispatches at a point on a date than its
coverage requests asked for) and the disbanded teams whose shifts ahead are to be cancelled. Each
finding is a pure function of the log prefix, and is appended with a command id derived from it,
so replays, restarts and several instances record each once. Dispatches, coverage and no-shows
are kept compactly by :class:`~services.dispatch.bookings.Bookings`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date

from nats.js import JetStreamContext

from services.dispatch.bookings import Bookings
from services.dispatch.domain.dayfigures import DayTally
from services.dispatch.domain.model import PointView, TeamView, shared
from shared.events import Event
from shared.events.dispatch import (
    ActivityReported,
    CoverageRequested,
    DayClosed,
    DispatchCancelled,
    DispatchMarkedNoShow,
    FieldReportCorrected,
    NoShowWithdrawn,
    OverCapacityRecorded,
    TeamCheckedIn,
    TeamDispatched,
    TeamRotationPlanned,
)
from shared.events.registry import (
    BorderCommunesDesignated,
    ServicePointRegistered,
    TeamDisbanded,
    TeamFormed,
    TeamMemberAdded,
    TeamMemberRemoved,
)
from shared.projection import Batch, ProjectionRunner
from shared.provisioned import DISPATCH_FACTS_BATCH, dispatch_facts_filters
from shared.typedenvelopes import TypedEnvelopes
from shared.upcast import PoisonEventError, read_envelope, read_event

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
        TeamRotationPlanned,
        TeamCheckedIn,
        DispatchMarkedNoShow,
        DispatchCancelled,
        CoverageRequested,
        OverCapacityRecorded,
        DayClosed,
        ActivityReported,
        NoShowWithdrawn,
        FieldReportCorrected,
    )
)
_TYPED = TypedEnvelopes(APPLIED)
# What a batch of facts makes dispatch write: an over-capacity conflict to record, or a disbanded
# team whose shifts still ahead are to be cancelled. Each is keyed so replays record it once.
Finding = OverCapacityRecorded | TeamDisbanded


@dataclass(frozen=True, slots=True)
class Cause:
    """The event a finding comes from: its reaction is recorded with the same correlation id and
    this event as its causation."""

    correlation_id: str
    event_id: str


Findings = Callable[[list[tuple[Finding, Cause]]], Awaitable[None]]
Fact = tuple[int, Event, Cause]  # (stream sequence, event, its ids) as decode_fact reads it


def decode_fact(seq: int, raw: bytes) -> tuple[Fact | None, str | None]:
    """:func:`shared.projection.decode_event`, keeping the ids a reaction to the event needs
    (one typed pass when it can: shared/typedenvelopes.py)."""
    typed = _TYPED.read(raw)
    if typed is not None:
        envelope, event = typed
        return (seq, event, Cause(envelope.correlation_id, envelope.event_id)), None
    try:
        envelope = read_envelope(raw)
        return (seq, read_event(envelope), Cause(envelope.correlation_id, envelope.event_id)), None
    except PoisonEventError as err:
        return None, err.reason


def filter_subjects(hub: str) -> list[str]:
    """As the operator provisions ``dispatch_facts_<slot>`` (shared/streams.py)."""
    return dispatch_facts_filters(hub)


@dataclass
class FactsView(Bookings):
    """The tables, in memory. ``apply`` is synchronous and does no I/O."""

    teams: dict[str, TeamView] = field(default_factory=dict)
    points: dict[str, PointView] = field(default_factory=dict)
    border_communes: set[str] = field(default_factory=set)
    closed_days: set[date] = field(default_factory=set)
    tally: DayTally = field(default_factory=DayTally)  # the day figures close_day publishes
    position: int = 0

    def recorded(self, finding: Finding) -> bool:
        if isinstance(finding, TeamDisbanded):  # done once none of its shifts is still scheduled
            return not self.scheduled_for(finding.team_id)
        return finding.dispatch_id in self.over_capacity_recorded

    def apply(self, seq: int, ev: Event) -> list[Finding]:
        self.position = max(self.position, seq)
        self.tally.apply(ev)
        if isinstance(ev, TeamFormed):
            self.teams[shared(ev.team_id)] = TeamView(
                shared(ev.team_id),
                shared(ev.province_code),
                None if ev.commune_code is None else shared(ev.commune_code),
                ev.focus,
            )
        elif isinstance(ev, TeamMemberAdded | TeamMemberRemoved | TeamDisbanded):
            team = self.teams.get(ev.team_id)
            if team is not None:
                self.teams[team.team_id] = _team_after(team, ev)
            if isinstance(ev, TeamDisbanded):
                return [ev]
        elif isinstance(ev, ServicePointRegistered):
            self.points[shared(ev.service_point_id)] = PointView(
                shared(ev.service_point_id), shared(ev.province_code), shared(ev.commune_code), ev.kind
            )
        elif isinstance(ev, BorderCommunesDesignated):
            self.border_communes.update(shared(c) for c in ev.commune_codes)
        elif isinstance(ev, DayClosed):
            self.closed_days.add(ev.date)
        elif isinstance(ev, ActivityReported | FieldReportCorrected):
            pass  # counted in the tally only
        else:
            return list(self._dispatch_fact(ev))
        return []


def _team_after(team: TeamView, ev: TeamMemberAdded | TeamMemberRemoved | TeamDisbanded) -> TeamView:
    if isinstance(ev, TeamMemberAdded):
        return replace(team, members=team.members | {ev.volunteer_id})
    if isinstance(ev, TeamMemberRemoved):
        return replace(team, members=team.members - {ev.volunteer_id})
    return replace(team, disbanded=True)


class FactsProjection:
    """Applies the runner's batches to a :class:`FactsView` and records the findings they produce."""

    def __init__(self, name: str, view: FactsView, on_findings: Findings) -> None:
        self.view = view
        self.name = name
        self._on_findings = on_findings
        self._pending: list[tuple[Finding, Cause]] = []
        self._changed = asyncio.Condition()

    @property
    def position(self) -> int:
        return self.view.position

    def runner(self, js: JetStreamContext, *, stream: str, hub: str) -> ProjectionRunner[Fact]:
        """The runner feeding this projection from its own consumer (dropped by the server when
        idle for an hour); a trickle of events is applied up to 20 ms later, in batches.

        At most :data:`~shared.provisioned.DISPATCH_FACTS_BATCH` (100) facts a batch: a batch is
        decoded whole before it is applied, and a rotation is one large event (a shift a day), so
        500 decoded ``TeamRotationPlanned`` of 28 shifts held ~21 MB of Python objects at once,
        which the allocator kept after they were freed. Under load a batch is shorter anyway (the
        20 ms pace); only a replay fetches more often."""
        return ProjectionRunner(
            js,
            self,
            decode_fact,
            stream=stream,
            durable=self.name,
            filter_subjects=filter_subjects(hub),
            event_types=APPLIED,
            batch_size=DISPATCH_FACTS_BATCH,
            inactive_threshold=3600.0,
            pace=0.02,
        )

    async def apply(self, batch: Batch[Fact]) -> None:
        """Apply what is new, then record pending findings (raises: the batch comes again, and
        the findings not yet recorded are tried again after the next one)."""
        for seq, ev, cause in batch.items:
            self._pending.extend((finding, cause) for finding in self.view.apply(seq, ev))
        self.view.position = max(self.view.position, batch.last_seq)
        async with self._changed:
            self._changed.notify_all()
        self._pending = [p for p in self._pending if not self.view.recorded(p[0])]  # replayed
        if self._pending:
            await self._on_findings(self._pending)
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
