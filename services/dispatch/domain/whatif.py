"""What-if replay: a period's recorded coverage requests through another dispatch rule. Pure.

Shifts that answered none of the period's requests (rotations, direct dispatches) stay as they were
recorded: they keep teams busy and count in every figure. Each local date's requests are decided
together, with the teams as they stood when the last of them was recorded, and every shift
recorded or already picked in view. So ``as-recorded`` gives back exactly the shifts of the log.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from services.dispatch.domain.history import Booking, History
from services.dispatch.domain.model import Request, TeamView, local_datetime
from services.dispatch.domain.rules import RULES, Situation
from services.dispatch.domain.suggest import Interval

# The figures of an outcome, in the order a what-if table shows them.
FIGURES: tuple[str, ...] = (
    "requests",
    "teams requested",
    "requests unserved",
    "teams short",
    "border communes asking",
    "border communes with a team",
    "border requests unserved",
    "shifts",
    "teams over-booked",
    "team-days over-booked",
    "sent outside own commune",
    "sent outside own province",
    "volunteer-hours",
)


class UnknownRuleError(KeyError):
    """No rule of that name is registered."""


@dataclass(frozen=True)
class Outcome:
    """The shifts of a period under one rule, and what they add up to."""

    rule: str
    start: date
    end: date
    requests: tuple[Request, ...]
    bookings: tuple[Booking, ...]  # every shift of the period, recorded or replayed
    border_communes: frozenset[str]
    homes: Mapping[str, tuple[str, str | None]]  # each booked team's province and commune

    def served(self) -> Counter[str]:
        return Counter(b.request_id for b in self.bookings if b.request_id is not None)

    def coverage(self) -> dict[tuple[date, str], tuple[int, int]]:
        """(requested, dispatched) teams per (date, service point), like reporting's coverage."""
        requested: Counter[tuple[date, str]] = Counter()
        dispatched: Counter[tuple[date, str]] = Counter()
        for r in self.requests:
            requested[(r.date, r.service_point_id)] += r.teams_needed
        for b in self.bookings:
            dispatched[(b.date, b.service_point_id)] += 1
        return {k: (requested[k], dispatched[k]) for k in sorted(requested.keys() | dispatched.keys())}

    def hours_by_focus(self) -> dict[str, float]:
        minutes: Counter[str] = Counter()
        for b in self.bookings:
            minutes[b.focus] += b.members * b.minutes
        return {focus: minutes[focus] / 60 for focus in sorted(minutes)}

    def figures(self) -> dict[str, float]:
        served = self.served()
        border = self.border_communes
        unserved = [r for r in self.requests if served[r.request_id] < r.teams_needed]
        per_day = Counter((b.team_id, b.date) for b in self.bookings)
        return {
            "requests": len(self.requests),
            "teams requested": sum(r.teams_needed for r in self.requests),
            "requests unserved": len(unserved),
            "teams short": sum(max(0, r.teams_needed - served[r.request_id]) for r in self.requests),
            "border communes asking": len(
                {r.commune_code for r in self.requests if r.commune_code in border}
            ),
            "border communes with a team": len(
                {b.commune_code for b in self.bookings if b.commune_code in border}
            ),
            "border requests unserved": sum(1 for r in unserved if r.commune_code in border),
            "shifts": len(self.bookings),
            "teams over-booked": len({team for (team, _), n in per_day.items() if n > 1}),
            "team-days over-booked": sum(1 for n in per_day.values() if n > 1),
            "sent outside own commune": sum(1 for b in self.bookings if _outside_commune(b, self)),
            "sent outside own province": sum(1 for b in self.bookings if _outside_province(b, self)),
            "volunteer-hours": sum(self.hours_by_focus().values()),
        }


def _outside_commune(b: Booking, o: Outcome) -> bool:
    home = o.homes.get(b.team_id)
    return home is not None and home[1] is not None and home[1] != b.commune_code


def _outside_province(b: Booking, o: Outcome) -> bool:
    home = o.homes.get(b.team_id)
    return home is not None and home[0] != b.province_code


def replay(history: History, rule_name: str, start: date, end: date) -> Outcome:
    """The period ``start``..``end`` (local dates, inclusive) with its requests decided by the rule."""
    try:
        decide = RULES[rule_name]
    except KeyError:
        raise UnknownRuleError(rule_name) from None
    asked = sorted(
        (a for a in history.requests.values() if start <= a.request.date <= end), key=lambda a: a.seq
    )
    ids = {a.request.request_id for a in asked}
    answers: defaultdict[str, list[Booking]] = defaultdict(list)
    kept: list[Booking] = []
    for b in sorted(history.dispatches.values(), key=lambda b: (b.starts_at, b.team_id, b.dispatch_id or "")):
        if b.request_id in ids:
            answers[b.request_id or ""].append(b)
        else:
            kept.append(b)
    busy: defaultdict[str, list[Interval]] = defaultdict(list)
    for b in kept:
        busy[b.team_id].append((b.starts_at, b.ends_at))
    bookings = [b for b in kept if start <= b.date <= end]
    load = Counter(b.team_id for b in bookings)
    border = frozenset(history.border_communes)
    by_day: defaultdict[date, list[Request]] = defaultdict(list)
    decided_at: dict[date, int] = {}
    for a in asked:
        by_day[a.request.date].append(a.request)
        decided_at[a.request.date] = a.seq
    for day in sorted(by_day):
        requests = by_day[day]
        teams = history.teams_at(decided_at[day])
        situation = Situation(teams, busy, load, border, answers)
        known = {t.team_id: t for t in teams}
        wanted = {r.request_id: r for r in requests}
        for pick in decide(requests, situation):
            r = wanted[pick.request_id]
            booking = pick.recorded or _booking(r, known[pick.team_id])
            bookings.append(booking)
            busy[booking.team_id].append((booking.starts_at, booking.ends_at))
            load[booking.team_id] += 1
    homes: dict[str, tuple[str, str | None]] = {}
    for b in bookings:
        team = history.team_now(b.team_id)
        if team is not None:
            homes[b.team_id] = (team.province_code, team.commune_code)
    requested = tuple(a.request for a in asked)
    return Outcome(rule_name, start, end, requested, tuple(sorted(bookings, key=_order)), border, homes)


def _order(b: Booking) -> tuple[str, str, str, str]:
    return (b.starts_at.isoformat(), b.team_id, b.service_point_id, b.dispatch_id or "")


def _booking(r: Request, team: TeamView) -> Booking:
    return Booking(
        None,
        team.team_id,
        r.service_point_id,
        r.province_code,
        r.commune_code,
        r.date,
        local_datetime(r.date, r.starts_at),
        local_datetime(r.date, r.ends_at),
        r.focus or team.focus,  # as dispatch_team records it: the request's focus, else the team's
        len(team.members),
        r.request_id,
    )
