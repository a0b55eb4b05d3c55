"""The scratch projection a what-if replay folds the log into. Pure, in memory, never written back.

It keeps what a dispatch rule can know (teams as they were at each log position, service points,
border communes), the coverage requests, and every shift that was actually recorded and not
cancelled (a :class:`Booking`, with the team's size when it was dispatched). Registry facts come
from team, service point and campaign subjects only: no volunteer subject, so no personal data.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from services.dispatch.domain.model import PointView, Request, TeamView
from shared.events import Event
from shared.events.dispatch import (
    CoverageRequested,
    DispatchCancelled,
    TeamDispatched,
    TeamRotationPlanned,
)
from shared.events.registry import (
    BorderCommunesDesignated,
    Focus,
    ServicePointRegistered,
    TeamDisbanded,
    TeamFormed,
    TeamMemberAdded,
    TeamMemberRemoved,
)

# The event types the fold reads (the reader may skip every other one before decoding it).
FOLDED = frozenset(
    e.event_type
    for e in (
        TeamFormed,
        TeamMemberAdded,
        TeamMemberRemoved,
        TeamDisbanded,
        ServicePointRegistered,
        BorderCommunesDesignated,
        CoverageRequested,
        TeamDispatched,
        TeamRotationPlanned,
        DispatchCancelled,
    )
)


@dataclass(frozen=True, slots=True)
class Booking:
    """One shift: recorded (``dispatch_id`` set) or made by a replayed rule (``dispatch_id`` None)."""

    dispatch_id: str | None
    team_id: str
    service_point_id: str
    province_code: str
    commune_code: str
    date: date
    starts_at: datetime
    ends_at: datetime
    focus: Focus
    members: int  # the team's size when it was sent
    request_id: str | None = None

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


@dataclass(frozen=True, slots=True)
class Asked:
    """A coverage request and the log position it was recorded at."""

    seq: int
    request: Request


@dataclass
class History:
    """The log folded: ``apply`` every event of the filtered log in stream order."""

    points: dict[str, PointView] = field(default_factory=dict)
    border_communes: set[str] = field(default_factory=set)
    requests: dict[str, Asked] = field(default_factory=dict)
    dispatches: dict[str, Booking] = field(default_factory=dict)  # recorded and not cancelled
    position: int = 0
    _versions: dict[str, tuple[list[int], list[TeamView]]] = field(default_factory=dict)

    def apply(self, seq: int, ev: Event) -> None:
        self.position = max(self.position, seq)
        if isinstance(ev, TeamRotationPlanned):  # a shift a day, as the old batch form recorded it
            for shift in ev.dispatched():
                self.apply(seq, shift)
        elif isinstance(ev, TeamFormed):
            if ev.team_id not in self._versions:
                self._versions[ev.team_id] = (
                    [seq],
                    [TeamView(ev.team_id, ev.province_code, ev.commune_code, ev.focus)],
                )
        elif isinstance(ev, TeamMemberAdded | TeamMemberRemoved | TeamDisbanded):
            self._team_event(seq, ev)
        elif isinstance(ev, ServicePointRegistered):
            self.points[ev.service_point_id] = PointView(
                ev.service_point_id, ev.province_code, ev.commune_code, ev.kind
            )
        elif isinstance(ev, BorderCommunesDesignated):
            self.border_communes.update(ev.commune_codes)
        elif isinstance(ev, CoverageRequested):
            self.requests.setdefault(ev.request_id, Asked(seq, _request(ev)))
        elif isinstance(ev, TeamDispatched):
            team = self.team_now(ev.team_id)
            self.dispatches[ev.dispatch_id] = Booking(
                ev.dispatch_id,
                ev.team_id,
                ev.service_point_id,
                ev.province_code,
                ev.commune_code,
                ev.date,
                ev.starts_at,
                ev.ends_at,
                ev.focus,
                len(team.members) if team else 0,
                ev.coverage_request_id,
            )
        elif isinstance(ev, DispatchCancelled):
            self.dispatches.pop(ev.dispatch_id, None)

    def _team_event(self, seq: int, ev: TeamMemberAdded | TeamMemberRemoved | TeamDisbanded) -> None:
        known = self._versions.get(ev.team_id)
        if known is None:
            return
        team = known[1][-1]
        if isinstance(ev, TeamMemberAdded):
            after = replace(team, members=team.members | {ev.volunteer_id})
        elif isinstance(ev, TeamMemberRemoved):
            after = replace(team, members=team.members - {ev.volunteer_id})
        else:
            after = replace(team, disbanded=True)
        known[0].append(seq)
        known[1].append(after)

    def team_now(self, team_id: str) -> TeamView | None:
        known = self._versions.get(team_id)
        return known[1][-1] if known else None

    def team_at(self, team_id: str, seq: int) -> TeamView | None:
        """The team as the log stood just after position ``seq`` (None: not formed yet)."""
        known = self._versions.get(team_id)
        if known is None:
            return None
        n = bisect_right(known[0], seq)
        return known[1][n - 1] if n else None

    def teams_at(self, seq: int) -> list[TeamView]:
        """Every team formed by position ``seq``, as it stood then, in team id order."""
        out = []
        for team_id in sorted(self._versions):
            team = self.team_at(team_id, seq)
            if team is not None:
                out.append(team)
        return out


def _request(ev: CoverageRequested) -> Request:
    return Request(
        ev.request_id,
        ev.service_point_id,
        ev.province_code,
        ev.commune_code,
        ev.date,
        ev.starts_at,
        ev.ends_at,
        ev.teams_needed,
        ev.focus,
    )
