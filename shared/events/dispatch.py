"""Facts dispatch records: coverage requests, shifts, check-in/out, field reports, no-shows.

Every shift-level fact carries the service point's province and commune and the shift's local date,
so read models can count by province, commune and day without joining back to the registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events import Event, event
from shared.events.registry import Focus

CONTEXT = "dispatch"


class _Where(Event):
    service_point_id: str
    province_code: str
    commune_code: str
    date: date  # local (Asia/Ho_Chi_Minh) date of the shift


@event
class CoverageRequested(_Where):
    event_type = "dispatch.coverage_requested"

    request_id: str
    starts_at: time
    ends_at: time
    teams_needed: int = Field(ge=1)
    focus: Focus | None = None


@event
class TeamDispatched(_Where):
    event_type = "dispatch.team_dispatched"

    dispatch_id: str
    team_id: str
    starts_at: datetime
    ends_at: datetime
    focus: Focus
    coverage_request_id: str | None = None
    rotation_id: str | None = None


class RotationShift(BaseModel):
    """One day of a rotation: what a ``TeamDispatched`` of it would hold beyond the rotation's own
    fields (team, focus, rotation id)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dispatch_id: str
    service_point_id: str
    province_code: str
    commune_code: str
    date: date  # local (Asia/Ho_Chi_Minh) date of the shift
    starts_at: datetime
    ends_at: datetime


@event
class TeamRotationPlanned(Event):
    """A rotation (``plan_rotation``): a shift a day, all of them in this one event, so a rotation
    is one append rather than an atomic batch of one ``dispatch.team_dispatched`` a day (a batch
    costs the server ~10x an append). Each entry of ``shifts`` is a dispatch exactly as a
    ``dispatch.team_dispatched`` with this event's ``team_id``, ``focus`` and ``rotation_id`` (and
    no coverage request) records one: count and follow it as one. Logs from before this event
    hold a rotation in that older form, one ``dispatch.team_dispatched`` a day with
    ``rotation_id`` set; both forms mean the same."""

    event_type = "dispatch.team_rotation_planned"

    rotation_id: str
    team_id: str
    focus: Focus
    shifts: tuple[RotationShift, ...] = Field(min_length=1)

    def dispatched(self) -> tuple[TeamDispatched, ...]:
        """Each shift as the ``TeamDispatched`` the batch form recorded for it (not validated
        again: the rotation was)."""
        return tuple(
            TeamDispatched.model_construct(
                service_point_id=s.service_point_id,
                province_code=s.province_code,
                commune_code=s.commune_code,
                date=s.date,
                dispatch_id=s.dispatch_id,
                team_id=self.team_id,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                focus=self.focus,
                coverage_request_id=None,
                rotation_id=self.rotation_id,
            )
            for s in self.shifts
        )


def shift_facts(ev: Event) -> Sequence[Event]:
    """The facts ``ev`` records, one per shift: a rotation's ``TeamDispatched`` each, any other
    event itself."""
    return ev.dispatched() if isinstance(ev, TeamRotationPlanned) else (ev,)


@event
class DispatchCancelled(_Where):
    event_type = "dispatch.dispatch_cancelled"

    dispatch_id: str
    team_id: str
    reason: str


@event
class TeamCheckedIn(_Where):
    event_type = "dispatch.team_checked_in"

    dispatch_id: str
    team_id: str
    at: datetime
    late: bool = False


@event
class TeamCheckedOut(_Where):
    event_type = "dispatch.team_checked_out"

    dispatch_id: str
    team_id: str
    at: datetime


@event
class DispatchMarkedNoShow(_Where):
    event_type = "dispatch.dispatch_marked_no_show"

    dispatch_id: str
    team_id: str


@event
class NoShowWithdrawn(_Where):
    """A check-in arrived for a shift its day's close had marked a no-show (the field's record
    arrived late): the shift is no longer a no-show. Recorded just before that ``TeamCheckedIn``."""

    event_type = "dispatch.no_show_withdrawn"

    dispatch_id: str
    team_id: str


Source = Literal["command", "ingest"]


class _Reported(_Where):
    """A field report's seven counts (:data:`REPORT_COUNTS`), as first reported or as corrected."""

    dispatch_id: str
    team_id: str
    people_supported: int = Field(ge=0)
    businesses_supported: int = Field(ge=0)
    officials_supported: int = Field(ge=0)
    online_applications_guided: int = Field(ge=0)
    digital_sessions_held: int = Field(ge=0)
    session_attendees: int = Field(ge=0)
    elderly_attendees: int = Field(ge=0)


_IDS = {*_Where.model_fields, "dispatch_id", "team_id"}
REPORT_COUNTS: tuple[str, ...] = tuple(f for f in _Reported.model_fields if f not in _IDS)


@event
class ActivityReported(_Reported):
    event_type = "dispatch.activity_reported"

    source: Source = "command"


@event
class FieldReportCorrected(_Reported):
    """An earlier field report of the dispatch, corrected: its seven counts as they now stand, and
    ``change``, what each count moved by (only those that moved; the report itself still counts
    once)."""

    event_type = "dispatch.field_report_corrected"

    change: dict[str, int]


@event
class OverCapacityRecorded(_Where):
    """More teams were dispatched to a point on a day than its coverage requests asked for."""

    event_type = "dispatch.over_capacity_recorded"

    dispatch_id: str
    requested: int
    dispatched: int


@event
class DayClosed(Event):
    event_type = "dispatch.day_closed"

    hub: str
    date: date
    no_shows: int


# The figures a day's publication states: those counted per fact at a service point (reporting's
# traced figures; active teams and volunteers are states, not sums of a day's facts).
DAY_FIGURES: tuple[str, ...] = (
    "dispatches",
    "check_ins",
    "no_shows",
    *REPORT_COUNTS,
    "activity_reports",
    "over_capacity",
)


class PlaceFigures(BaseModel):
    """One commune's figures of the day (only those not zero)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    province_code: str
    commune_code: str
    figures: dict[str, int]


@event
class DayFiguresPublished(Event):
    """A closed day's figures for the hub, as they stood when it was closed (the dispatch facts
    before its ``DayClosed``, in log order). Later facts of the day are restatements."""

    event_type = "dispatch.day_figures_published"

    hub: str
    date: date
    places: list[PlaceFigures]
