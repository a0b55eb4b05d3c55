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

Every dispatch's attendance (scheduled, checked in, no-show, cancelled) is followed too, so
``close_day`` knows which teams still have a shift of the date merely scheduled, and how many
no-shows the date has, without reading every schedule. Every replica holds all of this for the
whole campaign, so it is kept small: ids are shared strings, a dispatch is a slotted
:class:`Booking` of ints, a point-day is an int key into counters; what no rule needs (coverage
requests themselves, the set of dispatches per point-day) is not kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from nats.aio.msg import Msg

from services.dispatch.domain.model import LOCAL_TZ, PointView, TeamView, shared
from shared.envelope import H_EVENT_TYPE, Envelope, event_subject
from shared.events import Event
from shared.events.dispatch import (
    CONTEXT,
    CoverageRequested,
    DayClosed,
    DispatchCancelled,
    DispatchMarkedNoShow,
    OverCapacityRecorded,
    TeamCheckedIn,
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
        TeamCheckedIn,
        DispatchMarkedNoShow,
        DispatchCancelled,
        CoverageRequested,
        OverCapacityRecorded,
        DayClosed,
    )
)
# What a batch of facts makes dispatch write: an over-capacity conflict to record, or a disbanded
# team whose shifts still ahead are to be cancelled. Each is keyed so replays record it once.
Finding = OverCapacityRecorded | TeamDisbanded
Findings = Callable[[list[Finding]], Awaitable[None]]


def filter_subjects(hub: str) -> list[str]:
    reg = "registry"
    return [
        event_subject(hub, reg, "team", "*"),
        event_subject(hub, reg, "service_point", "*"),
        event_subject(hub, reg, "campaign", "*"),
        f"vhub.evt.{hub}.{CONTEXT}.>",
    ]


# what the projection knows of a dispatch's attendance (close_day visits only SCHEDULED ones)
SCHEDULED, ATTENDED, NO_SHOW, CANCELLED = 0, 1, 2, 3
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DAY_BITS = 20  # a point-day key is point number << 20 | date ordinal (ordinals < 2**20 until 2871)


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


def _from_micros(micros: int) -> datetime:
    return (_EPOCH + micros * _MICROSECOND).astimezone(LOCAL_TZ)


@dataclass(slots=True)
class Booking:
    """One dispatch as the projection keeps it: ~150 bytes (the campaign has ~100,000)."""

    team_id: str
    point_day: int
    starts: int  # microseconds since the epoch: exact, and smaller than a datetime
    ends: int
    state: int = SCHEDULED


@dataclass
class FactsView:
    """The tables, in memory. ``apply`` is synchronous and does no I/O.

    Kept compact, since every replica holds all of it for the whole campaign: ids are shared
    strings, a dispatch is a :class:`Booking`, a point-day is an int key into counters.
    """

    teams: dict[str, TeamView] = field(default_factory=dict)
    points: dict[str, PointView] = field(default_factory=dict)
    border_communes: set[str] = field(default_factory=set)
    bookings: dict[str, Booking] = field(default_factory=dict)  # every dispatch, by dispatch id
    closed_days: set[date] = field(default_factory=set)
    position: int = 0
    _point_numbers: dict[str, int] = field(default_factory=dict)
    _requested: dict[int, int] = field(default_factory=dict)  # point-day -> teams requested
    _active: dict[int, int] = field(default_factory=dict)  # point-day -> dispatches not cancelled
    over_capacity_recorded: set[str] = field(default_factory=set)  # dispatch ids with a conflict recorded
    _no_shows: dict[date, int] = field(default_factory=dict)

    def _point_day(self, point_id: str, day: date, *, add: bool = True) -> int | None:
        number = self._point_numbers.get(point_id)
        if number is None:
            if not add:
                return None
            number = self._point_numbers[shared(point_id)] = len(self._point_numbers)
        return number << _DAY_BITS | day.toordinal()

    def recorded(self, finding: Finding) -> bool:
        if isinstance(finding, TeamDisbanded):  # done once none of its shifts is still scheduled
            team = finding.team_id
            return not any(b.team_id == team and b.state == SCHEDULED for b in self.bookings.values())
        return finding.dispatch_id in self.over_capacity_recorded

    def over_capacity(self, point_id: str, day: date, dispatch_id: str) -> list[dict[str, Any]]:
        """An advisory warning when this dispatch takes a point-day over what it requested."""
        key = self._point_day(point_id, day, add=False)
        requested = 0 if key is None else self._requested.get(key, 0)
        if key is None or requested == 0:
            return []
        booking = self.bookings.get(dispatch_id)
        counted = booking is not None and booking.point_day == key and booking.state != CANCELLED
        dispatched = self._active.get(key, 0) - counted + 1
        if dispatched <= requested:
            return []
        reason = "more teams than requested at this point on this date: recorded as a conflict"
        return [
            {
                "code": "over_capacity",
                "requested": requested,
                "dispatched": dispatched,
                "reason": reason,
            }
        ]

    def busy(self) -> dict[str, list[tuple[datetime, datetime]]]:
        out: dict[str, list[tuple[datetime, datetime]]] = {}
        for b in self.bookings.values():
            if b.state != CANCELLED:
                out.setdefault(b.team_id, []).append((_from_micros(b.starts), _from_micros(b.ends)))
        return out

    def open_teams(self, day: date) -> list[str]:
        """Teams with a dispatch on ``day`` neither checked in, cancelled nor marked no-show."""
        ordinal, mask = day.toordinal(), (1 << _DAY_BITS) - 1
        bookings = self.bookings.values()
        return sorted({b.team_id for b in bookings if b.state == SCHEDULED and b.point_day & mask == ordinal})

    def no_shows_on(self, day: date) -> int:
        return self._no_shows.get(day, 0)

    def apply(self, seq: int, ev: Event) -> list[Finding]:
        self.position = max(self.position, seq)
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
        else:
            return self._dispatch_fact(ev)
        return []

    def _dispatch_fact(self, ev: Event) -> list[Finding]:
        if isinstance(ev, CoverageRequested):
            key = self._point_day(ev.service_point_id, ev.date)
            assert key is not None
            self._requested[key] = self._requested.get(key, 0) + ev.teams_needed
        elif isinstance(ev, OverCapacityRecorded):
            self.over_capacity_recorded.add(shared(ev.dispatch_id))
        elif isinstance(ev, TeamDispatched):
            return self._dispatched(ev)
        elif isinstance(ev, TeamCheckedIn | DispatchMarkedNoShow | DispatchCancelled):
            booking = self.bookings.get(ev.dispatch_id)
            if booking is None:
                return []
            if isinstance(ev, DispatchCancelled):
                if booking.state != CANCELLED:
                    self._active[booking.point_day] -= 1
                booking.state = CANCELLED
            elif isinstance(ev, TeamCheckedIn):
                booking.state = ATTENDED
            elif booking.state != NO_SHOW:
                booking.state = NO_SHOW
                self._no_shows[ev.date] = self._no_shows.get(ev.date, 0) + 1
        return []

    def _dispatched(self, ev: TeamDispatched) -> list[Finding]:
        key = self._point_day(ev.service_point_id, ev.date)
        assert key is not None
        before = self.bookings.get(ev.dispatch_id)
        if before is not None and before.state != CANCELLED:
            self._active[before.point_day] -= 1
        self.bookings[shared(ev.dispatch_id)] = Booking(
            shared(ev.team_id), key, _micros(ev.starts_at), _micros(ev.ends_at)
        )
        active = self._active[key] = self._active.get(key, 0) + 1
        requested = self._requested.get(key, 0)
        if 0 < requested < active:
            return [
                OverCapacityRecorded(
                    service_point_id=ev.service_point_id,
                    province_code=ev.province_code,
                    commune_code=ev.commune_code,
                    date=ev.date,
                    dispatch_id=ev.dispatch_id,
                    requested=requested,
                    dispatched=active,
                )
            ]
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
        self._pending: list[Finding] = []
        self._changed = asyncio.Condition()

    async def handle(self, msgs: list[Msg]) -> None:
        """The consumer's batch handler: apply what is new, then record pending findings."""
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            if seq <= self.view.position:
                continue  # redelivered: already applied
            event_type = (msg.headers or {}).get(H_EVENT_TYPE)
            if event_type is not None and event_type not in APPLIED:
                self.view.position = seq  # check-outs, reports…: nothing here depends on them
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
