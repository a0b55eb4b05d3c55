"""What dispatch can be asked to do (imperative names, no suffix): the fields of each command.

Shapes are validated here (types, required fields, time zones); rules that need state or facts are
decided in :mod:`services.dispatch.domain.decide`, each with its own rejection code. The command
envelope fields (id, correlation, actor) come from :class:`shared.contract.Command`, as in every context.
"""

from __future__ import annotations

from pydantic import Field

from shared.contract import Command
from shared.events.registry import Focus
from shared.fields import CampaignDate, CampaignDateTime, ClockTime, Text

REF = r"^[A-Za-z0-9_\-]{1,64}$"  # ids that become subject tokens
SCOPED_REF = r"^[A-Za-z0-9_\-]{1,64}:[A-Za-z0-9]{1,32}$"


class RequestCoverage(Command):
    """A service point needs ``teams_needed`` teams on ``date`` from ``starts_at`` to
    ``ends_at`` (local times). Replies ``result.request_id``."""

    owned_fields = ("service_point_id",)

    service_point_id: str = Field(pattern=REF)
    date: CampaignDate
    starts_at: ClockTime
    ends_at: ClockTime
    teams_needed: int = Field(ge=1, le=100)
    focus: Focus | None = None


class DispatchTeam(Command):
    """Send a team to a service point for one shift (aware ISO datetimes). Replies
    ``result.dispatch_id``."""

    owned_fields = ("team_id", "service_point_id", "coverage_request_id")

    team_id: str = Field(pattern=REF)
    service_point_id: str = Field(pattern=REF)
    starts_at: CampaignDateTime
    ends_at: CampaignDateTime
    focus: Focus | None = None
    coverage_request_id: str | None = Field(default=None, pattern=SCOPED_REF)


class PlanRotation(Command):
    """One shift a day from ``from_date`` to ``to_date``, cycling over ``service_point_ids``; all
    or nothing. Replies ``result.dispatches``."""

    owned_fields = ("team_id", "service_point_ids")

    team_id: str = Field(pattern=REF)
    service_point_ids: list[str] = Field(min_length=1, max_length=100)
    from_date: CampaignDate
    to_date: CampaignDate
    daily_starts_at: ClockTime
    daily_ends_at: ClockTime
    focus: Focus | None = None


class CancelDispatch(Command):
    """Call a dispatch off, with the reason."""

    owned_fields = ("dispatch_id",)

    dispatch_id: str = Field(pattern=SCOPED_REF)
    reason: Text = Field(min_length=1, max_length=500)


class CheckIn(Command):
    """The team arrived at ``at`` (the caller's time, checked against the shift window and
    the clock)."""

    owned_fields = ("dispatch_id",)

    dispatch_id: str = Field(pattern=SCOPED_REF)
    at: CampaignDateTime


class CheckOut(Command):
    """The team left at ``at`` (after its check-in, not in the future)."""

    owned_fields = ("dispatch_id",)

    dispatch_id: str = Field(pattern=SCOPED_REF)
    at: CampaignDateTime


class CloseDay(Command):
    """Every dispatch of ``date`` not checked in becomes a no-show, once. Replies the day's
    ``no_shows``."""

    date: CampaignDate


class ReportActivity(Command):
    """Counts for one dispatch. Signs and bounds are rules (own codes), not shape errors."""

    owned_fields = ("dispatch_id",)

    dispatch_id: str = Field(pattern=SCOPED_REF)
    people_supported: int = 0
    businesses_supported: int = 0
    officials_supported: int = 0
    online_applications_guided: int = 0
    digital_sessions_held: int = 0
    session_attendees: int = 0
    elderly_attendees: int = 0


class CorrectFieldReport(Command):
    """New values for counts of the dispatch's earlier field report; a count not given keeps its
    value. The corrected report is checked by the same rules as a report (own codes)."""

    owned_fields = ("dispatch_id",)

    dispatch_id: str = Field(pattern=SCOPED_REF)
    people_supported: int | None = None
    businesses_supported: int | None = None
    officials_supported: int | None = None
    online_applications_guided: int | None = None
    digital_sessions_held: int | None = None
    session_attendees: int | None = None
    elderly_attendees: int | None = None


class SuggestTeams(Command):
    """A ranked, explained list of teams free for a coverage request (nothing is written)."""

    owned_fields = ("request_id",)

    request_id: str = Field(pattern=SCOPED_REF)
    limit: int = Field(default=10, ge=1, le=100)


COMMANDS: dict[str, type[Command]] = {
    "request_coverage": RequestCoverage,
    "dispatch_team": DispatchTeam,
    "plan_rotation": PlanRotation,
    "cancel_dispatch": CancelDispatch,
    "check_in": CheckIn,
    "check_out": CheckOut,
    "close_day": CloseDay,
    "report_activity": ReportActivity,
    "correct_field_report": CorrectFieldReport,
    "suggest_teams": SuggestTeams,
}
