"""Dispatch state (frozen), the facts a decision needs, the policy knobs, and the id scheme.

Ids are scoped to the aggregate that owns them, so a command finds its aggregate without a lookup:
a dispatch id is ``<team_id>:<12 hex>`` (the team's schedule holds it) and a coverage request id is
``<service_point_id>_<yyyymmdd>:<12 hex>`` (the point-day holds it). The hex part is derived from the
command id by the service, so a retried command names the same dispatch.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Literal, TypedDict, TypeVar

from shared.events.registry import Focus

LOCAL_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")  # Viet Nam keeps no daylight saving
Status = Literal["scheduled", "checked_in", "checked_out", "cancelled", "no_show"]
REPORT_FIELDS = (
    "people_supported",
    "businesses_supported",
    "officials_supported",
    "online_applications_guided",
    "digital_sessions_held",
    "session_attendees",
    "elderly_attendees",
)
DEFAULT_REPORT_LIMITS: Mapping[str, int] = {  # per shift: above these a report is implausible
    "people_supported": 500,
    "businesses_supported": 200,
    "officials_supported": 200,
    "online_applications_guided": 500,
    "digital_sessions_held": 20,
    "session_attendees": 1_000,
    "elderly_attendees": 1_000,
}


_TZS: dict[timedelta, tzinfo] = {}
_DATES: dict[date, date] = {}


Text = TypeVar("Text", bound=str)


if TYPE_CHECKING:

    def shared(value: Text) -> Text:
        """One string object for every copy of an id or code kept in memory (ids repeat a lot)."""
        return value

else:
    shared = sys.intern  # itself: a wrapper's two frames cost more than interning (it runs per shift)


def shared_date(day: date) -> date:
    """One object per date kept in memory."""
    return _DATES.setdefault(day, day)


def shared_tz(at: datetime) -> datetime:
    """The same instant with one shared tzinfo per UTC offset: each decoded datetime otherwise
    carries a tzinfo object of its own. Offset, equality and ``isoformat()`` are unchanged."""
    zone = at.tzinfo
    if zone is None:
        return at
    offset = zone.utcoffset(at)
    if offset is None:
        return at
    one = _TZS.get(offset)
    if one is None:
        one = _TZS[offset] = timezone(offset)
    return at if zone is one else at.replace(tzinfo=one)


def local_date(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def local_datetime(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LOCAL_TZ)


def point_day_id(service_point_id: str, day: date) -> str:
    """The coverage aggregate of one service point on one local date."""
    return f"{service_point_id}_{day:%Y%m%d}"


def scoped_id(owner: str, token: str) -> str:
    return f"{owner}:{token[:12]}"


def owner_of(scoped: str) -> str | None:
    """The aggregate id a scoped id belongs to, or None when it is not a scoped id."""
    owner, sep, token = scoped.rpartition(":")
    return owner if sep and owner and token else None


@dataclass(frozen=True)
class Policy:
    """The configurable rules (built from settings by the composition root)."""

    campaign_start: date = date(2025, 7, 1)
    campaign_end: date = date(2025, 8, 31)
    checkin_grace: timedelta = timedelta(minutes=60)
    clock_skew: timedelta = timedelta(minutes=5)
    min_shift: timedelta = timedelta(hours=1)
    max_shift: timedelta = timedelta(hours=12)
    max_rotation_days: int = 62
    report_limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_REPORT_LIMITS))


@dataclass(frozen=True, slots=True)
class TeamView:
    """What dispatch knows of a team from registry facts."""

    team_id: str
    province_code: str
    commune_code: str | None
    focus: Focus
    members: frozenset[str] = frozenset()
    disbanded: bool = False


@dataclass(frozen=True, slots=True)
class PointView:
    service_point_id: str
    province_code: str
    commune_code: str
    kind: str = "commune_one_stop"


class Where(TypedDict):
    service_point_id: str
    province_code: str
    commune_code: str
    date: date


@dataclass(frozen=True, slots=True)
class Shift:
    """One dispatch of a team, as its schedule holds it."""

    dispatch_id: str
    team_id: str
    service_point_id: str
    province_code: str
    commune_code: str
    date: date
    starts_at: datetime
    ends_at: datetime
    focus: Focus
    status: Status = "scheduled"
    checked_in_at: datetime | None = None
    checked_out_at: datetime | None = None
    report: tuple[int, ...] | None = None  # the field report's counts (REPORT_FIELDS order)

    @property
    def reported(self) -> bool:
        return self.report is not None

    @property
    def active(self) -> bool:
        return self.status not in ("cancelled",)

    def overlaps(self, starts_at: datetime, ends_at: datetime) -> bool:
        return self.active and self.starts_at < ends_at and starts_at < self.ends_at

    def where(self) -> Where:
        return {
            "service_point_id": self.service_point_id,
            "province_code": self.province_code,
            "commune_code": self.commune_code,
            "date": self.date,
        }


@dataclass(frozen=True, slots=True)
class Schedule:
    """The aggregate: one team's shifts. Its version guards against double booking."""

    shifts: Mapping[str, Shift] = field(default_factory=dict)

    def on(self, day: date) -> list[Shift]:
        return [s for s in self.shifts.values() if s.date == day]


@dataclass(frozen=True, slots=True)
class Request:
    request_id: str
    service_point_id: str
    province_code: str
    commune_code: str
    date: date
    starts_at: time
    ends_at: time
    teams_needed: int
    focus: Focus | None


@dataclass(frozen=True, slots=True)
class Coverage:
    """The aggregate of one service point on one date: its coverage requests and conflicts."""

    requests: Mapping[str, Request] = field(default_factory=dict)
    over_capacity: frozenset[str] = frozenset()  # dispatch ids already recorded


@dataclass(frozen=True, slots=True)
class Day:
    """The aggregate of one hub's local date: closed once, then its figures published once."""

    closed: bool = False
    no_shows: int = 0
    published: bool = False
