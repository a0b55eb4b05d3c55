"""Which teams to send to a coverage request: a pure ranking that explains itself.

A team is a candidate when it is active, based in the point's province and free for the whole
requested window. Candidates are ranked by, in order:

1. same commune as the point before the rest of the province;
2. focus matching the request's focus (a request without focus matches every team);
3. border communes first: when the point is in a border commune, teams based in a border commune
   come first (they know the area, and the campaign serves border communes first);
4. fewer shifts already on that date (spread the load), then larger teams, then team id (stable).

Every suggestion carries its reasons, and the reply counts the teams left out and why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.dispatch.domain.model import Request, TeamView, local_date, local_datetime

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Suggestion:
    rank: int
    team_id: str
    reasons: tuple[str, ...]
    same_commune: bool
    focus_match: bool
    border_team: bool
    shifts_that_day: int
    members: int


@dataclass(frozen=True)
class Ranking:
    border_commune: bool
    suggestions: tuple[Suggestion, ...]
    excluded: Mapping[str, int]


def _free(busy: Sequence[Interval], starts_at: datetime, ends_at: datetime) -> bool:
    return all(not (s < ends_at and starts_at < e) for s, e in busy)


def suggest(
    request: Request,
    teams: Iterable[TeamView],
    *,
    busy: Mapping[str, Sequence[Interval]],
    border_communes: frozenset[str],
    limit: int = 10,
) -> Ranking:
    """Rank the teams available for ``request``; ``busy`` holds each team's active shifts."""
    starts_at = local_datetime(request.date, request.starts_at)
    ends_at = local_datetime(request.date, request.ends_at)
    point_is_border = request.commune_code in border_communes
    excluded: Counter[str] = Counter()
    rows: list[tuple[tuple[int, int, int, int, int, str], Suggestion]] = []
    for team in teams:
        if team.disbanded:
            excluded["disbanded"] += 1
            continue
        if team.province_code != request.province_code:
            excluded["other_province"] += 1
            continue
        shifts = busy.get(team.team_id, ())
        if not _free(shifts, starts_at, ends_at):
            excluded["busy"] += 1
            continue
        same_commune = team.commune_code == request.commune_code
        focus_match = request.focus is None or team.focus == request.focus
        border_team = point_is_border and team.commune_code in border_communes
        that_day = sum(1 for s, _ in shifts if local_date(s) == request.date)
        reasons = [
            f"same commune {request.commune_code}"
            if same_commune
            else f"same province {request.province_code}",
            f"focus {team.focus} matches"
            if focus_match
            else f"focus {team.focus} differs from {request.focus}",
            f"free {starts_at:%H:%M}-{ends_at:%H:%M} on {request.date}",
        ]
        if border_team:
            reasons.append("based in a border commune, for a border commune")
        reasons.append(f"{that_day} other shift(s) that day, {len(team.members)} member(s)")
        key = (
            0 if same_commune else 1,
            0 if focus_match else 1,
            0 if border_team else 1,
            that_day,
            -len(team.members),
            team.team_id,
        )
        rows.append(
            (
                key,
                Suggestion(
                    0,
                    team.team_id,
                    tuple(reasons),
                    same_commune,
                    focus_match,
                    border_team,
                    that_day,
                    len(team.members),
                ),
            )
        )
    rows.sort(key=lambda row: row[0])
    ranked = tuple(
        Suggestion(
            n,
            s.team_id,
            s.reasons,
            s.same_commune,
            s.focus_match,
            s.border_team,
            s.shifts_that_day,
            s.members,
        )
        for n, (_, s) in enumerate(rows[:limit], start=1)
    )
    return Ranking(point_is_border, ranked, dict(excluded))
