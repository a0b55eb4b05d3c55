"""Dispatch rules for what-if replays: which teams each coverage request of a day gets. Pure.

A rule is one function ``(requests, situation) -> assignments`` registered by name with
:func:`rule`; the replay (:mod:`.whatif`) hands it one local date's requests in the order they were
recorded, with what was known when the last of them was recorded. A new rule is one function.

Every rule but ``as-recorded`` picks among the same candidates as ``suggest_teams``: active teams
of the point's province, free for the whole window (neither recorded shifts nor the rule's own
earlier picks overlap it). They differ in which requests go first and how teams are ranked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from services.dispatch.domain.history import Booking
from services.dispatch.domain.model import Request, TeamView, local_date, local_datetime
from services.dispatch.domain.suggest import Interval, suggest


@dataclass(frozen=True, slots=True)
class Assignment:
    """A team sent to a request; ``recorded`` is the actual shift when the rule keeps it."""

    request_id: str
    team_id: str
    recorded: Booking | None = None


@dataclass(frozen=True)
class Situation:
    """What a rule may know when it decides a day's requests."""

    teams: Sequence[TeamView]  # every team formed by then, as it stood then (disbanded ones too)
    busy: Mapping[str, Sequence[Interval]]  # each team's shifts booked so far
    load: Mapping[str, int]  # each team's shifts in the replayed period so far
    border_communes: frozenset[str]
    recorded: Mapping[str, Sequence[Booking]]  # what each request actually got

    @cached_property
    def by_province(self) -> Mapping[str, Sequence[TeamView]]:
        """The teams of each province (the only candidates of every rule here)."""
        out: dict[str, list[TeamView]] = {}
        for team in self.teams:
            out.setdefault(team.province_code, []).append(team)
        return out


class Booked:
    """The situation's shifts plus a rule's own picks so far (the situation stays untouched)."""

    def __init__(self, s: Situation) -> None:
        self._s = s
        self._mine: dict[str, list[Interval]] = {}
        self.load: Counter[str] = Counter(s.load)

    def of(self, team_id: str) -> Sequence[Interval]:
        mine = self._mine.get(team_id)
        known = self._s.busy.get(team_id, ())
        return [*known, *mine] if mine else known

    def add(self, team_id: str, window: Interval) -> None:
        self._mine.setdefault(team_id, []).append(window)
        self.load[team_id] += 1

    def busy_for(self, teams: Sequence[TeamView]) -> dict[str, Sequence[Interval]]:
        return {t.team_id: self.of(t.team_id) for t in teams}


Rule = Callable[[Sequence[Request], Situation], list[Assignment]]
RULES: dict[str, Rule] = {}


def rule(name: str) -> Callable[[Rule], Rule]:
    """Register a rule under ``name`` (what ``vhub replay-dispatch --rule`` takes)."""

    def register(fn: Rule) -> Rule:
        RULES[name] = fn
        return fn

    return register


@rule("as-recorded")
def as_recorded(requests: Sequence[Request], s: Situation) -> list[Assignment]:
    """What was actually dispatched for each request (not cancelled)."""
    return [
        Assignment(r.request_id, b.team_id, b) for r in requests for b in s.recorded.get(r.request_id, ())
    ]


@rule("suggest")
def suggest_ranking(requests: Sequence[Request], s: Situation) -> list[Assignment]:
    """The top of ``suggest_teams``' ranking for each request, in the order they were recorded."""
    booked = Booked(s)
    out = []
    for r in requests:
        teams = s.by_province.get(r.province_code, ())  # suggest leaves every other team out anyway
        busy = booked.busy_for(teams)
        ranking = suggest(r, teams, busy=busy, border_communes=s.border_communes, limit=r.teams_needed)
        for pick in ranking.suggestions:
            out.append(Assignment(r.request_id, pick.team_id))
            booked.add(pick.team_id, _window(r))
    return out


# -- rules that rank free candidates by a key ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    team: TeamView
    same_commune: bool
    focus_match: bool
    border_team: bool  # based in a border commune, for a border commune's request
    that_day: int  # other shifts on the request's date
    load: int  # shifts in the period so far


Key = Callable[[Candidate], tuple[int | str, ...]]


def _window(r: Request) -> Interval:
    return local_datetime(r.date, r.starts_at), local_datetime(r.date, r.ends_at)


def _free(shifts: Sequence[Interval], starts_at: datetime, ends_at: datetime) -> bool:
    return all(not (s < ends_at and starts_at < e) for s, e in shifts)


def allocate(
    requests: Sequence[Request], s: Situation, key: Key, *, first: Callable[[Request], int] | None = None
) -> list[Assignment]:
    """Serve ``requests`` (stably reordered by ``first``, when given) one by one, each with its
    ``teams_needed`` best free candidates by ``key``."""
    booked = Booked(s)
    out = []
    for r in sorted(requests, key=first) if first else requests:
        starts_at, ends_at = _window(r)
        border_point = r.commune_code in s.border_communes
        candidates = []
        for team in s.by_province.get(r.province_code, ()):
            shifts = booked.of(team.team_id)
            if team.disbanded or not _free(shifts, starts_at, ends_at):
                continue
            candidates.append(
                Candidate(
                    team,
                    team.commune_code == r.commune_code,
                    r.focus is None or team.focus == r.focus,
                    border_point and team.commune_code in s.border_communes,
                    sum(1 for a, _ in shifts if local_date(a) == r.date),
                    booked.load[team.team_id],
                )
            )
        for c in sorted(candidates, key=key)[: r.teams_needed]:
            out.append(Assignment(r.request_id, c.team.team_id))
            booked.add(c.team.team_id, (starts_at, ends_at))
    return out


@rule("border-first")
def border_first(requests: Sequence[Request], s: Situation) -> list[Assignment]:
    """Border communes' requests served before the others; teams based in border communes first."""
    return allocate(
        requests,
        s,
        lambda c: (
            not c.border_team,
            not c.same_commune,
            not c.focus_match,
            c.that_day,
            -len(c.team.members),
            c.team.team_id,
        ),
        first=lambda r: 0 if r.commune_code in s.border_communes else 1,
    )


@rule("same-commune-first")
def same_commune_first(requests: Sequence[Request], s: Situation) -> list[Assignment]:
    """A team of the point's own commune when one is free, else the least busy that day."""
    return allocate(
        requests, s, lambda c: (not c.same_commune, c.that_day, c.load, -len(c.team.members), c.team.team_id)
    )


@rule("least-loaded-first")
def least_loaded_first(requests: Sequence[Request], s: Situation) -> list[Assignment]:
    """The team with the fewest shifts in the period so far (then that day), to spread the work."""
    return allocate(requests, s, lambda c: (c.load, c.that_day, not c.focus_match, c.team.team_id))
