"""The commands as they travel on ``vhub.cmd.dispatch.<name>``: the domain's fields plus the command
envelope (id, correlation id, actor) every vhub command carries."""

from __future__ import annotations

from services.dispatch.domain import commands as fields
from shared.commands import Command


class RequestCoverage(Command, fields.RequestCoverage):
    """A service point needs ``teams_needed`` teams on ``date`` from ``starts_at`` to ``ends_at``."""


class DispatchTeam(Command, fields.DispatchTeam):
    """Send a team to a service point for one shift."""


class PlanRotation(Command, fields.PlanRotation):
    """A team rotates over service points, one shift a day, all or nothing."""


class CancelDispatch(Command, fields.CancelDispatch):
    """Call a dispatch off, with the reason."""


class CheckIn(Command, fields.CheckIn):
    """The team arrived at ``at`` (the caller's time)."""


class CheckOut(Command, fields.CheckOut):
    """The team left at ``at`` (the caller's time)."""


class CloseDay(Command, fields.CloseDay):
    """Every dispatch of ``date`` not checked in becomes a no-show."""


class ReportActivity(Command, fields.ReportActivity):
    """What a checked-in team did during its shift."""


class SuggestTeams(Command, fields.SuggestTeams):
    """A ranked, explained list of teams free for a coverage request."""
