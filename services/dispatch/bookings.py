"""Dispatch's own facts as its projection keeps them: every dispatch's attendance and the coverage
requested per point-day, so ``close_day`` knows which teams still have a shift merely scheduled
and how many no-shows a date has, and over-capacity conflicts are found as they happen.

Every replica holds this for the whole campaign, so it is kept small: ids are shared strings, a
dispatch is a slotted :class:`Booking` of ints, a point-day is an int key into counters; what no
rule needs (coverage requests themselves, the set of dispatches per point-day) is not kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.dispatch.domain.model import LOCAL_TZ, shared
from shared.events import Event
from shared.events.dispatch import (
    CoverageRequested,
    DispatchCancelled,
    DispatchMarkedNoShow,
    NoShowWithdrawn,
    OverCapacityRecorded,
    TeamCheckedIn,
    TeamDispatched,
    TeamRotationPlanned,
)

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
class Bookings:
    """Dispatches, coverage and no-shows (the dispatch half of :class:`~.facts.FactsView`)."""

    bookings: dict[str, Booking] = field(default_factory=dict)  # every dispatch, by dispatch id
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

    def scheduled_for(self, team_id: str) -> bool:
        """Whether any of the team's shifts is still merely scheduled."""
        return any(b.team_id == team_id and b.state == SCHEDULED for b in self.bookings.values())

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

    def _dispatch_fact(self, ev: Event) -> list[OverCapacityRecorded]:
        if isinstance(ev, CoverageRequested):
            key = self._point_day(ev.service_point_id, ev.date)
            assert key is not None
            self._requested[key] = self._requested.get(key, 0) + ev.teams_needed
        elif isinstance(ev, OverCapacityRecorded):
            self.over_capacity_recorded.add(shared(ev.dispatch_id))
        elif isinstance(ev, TeamDispatched):
            return self._dispatched(ev)
        elif isinstance(ev, TeamRotationPlanned):  # each shift, as the old batch form recorded it
            return [found for shift in ev.dispatched() for found in self._dispatched(shift)]
        elif isinstance(ev, TeamCheckedIn | DispatchMarkedNoShow | DispatchCancelled | NoShowWithdrawn):
            booking = self.bookings.get(ev.dispatch_id)
            if booking is None:
                return []
            if isinstance(ev, DispatchCancelled):
                if booking.state != CANCELLED:
                    self._active[booking.point_day] -= 1
                booking.state = CANCELLED
            elif isinstance(ev, NoShowWithdrawn):
                if booking.state == NO_SHOW:  # a late check-in follows: the day has one no-show less
                    booking.state = SCHEDULED
                    self._no_shows[ev.date] -= 1
            elif isinstance(ev, TeamCheckedIn):
                booking.state = ATTENDED
            elif booking.state != NO_SHOW:
                booking.state = NO_SHOW
                self._no_shows[ev.date] = self._no_shows.get(ev.date, 0) + 1
        return []

    def _dispatched(self, ev: TeamDispatched) -> list[OverCapacityRecorded]:
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
