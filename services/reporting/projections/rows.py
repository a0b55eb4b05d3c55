"""What a batch reads before it is folded, and the row changes it produces. Plain data, no I/O."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

Area = tuple[str, str]  # (level, code): ('campaign', ''), ('province', '01'), ('commune', '00070')
CAMPAIGN: Area = ("campaign", "")


def areas(province: str | None, commune: str | None) -> list[Area]:
    """The areas a fact at ``province``/``commune`` counts in, from the campaign down."""
    out = [CAMPAIGN]
    if province:
        out.append(("province", province))
    if commune:
        out.append(("commune", commune))
    return out


@dataclass(slots=True)
class VolunteerRow:
    volunteer_id: str
    province_code: str
    commune_code: str
    affiliation: str
    active: bool = True


@dataclass(slots=True)
class TeamRow:
    team_id: str
    province_code: str
    commune_code: str | None
    focus: str
    organisation: str
    active: bool = True
    members: int = 0
    dispatches: int = 0
    check_ins: int = 0
    no_shows: int = 0
    people_supported: int = 0


@dataclass(slots=True)
class CoverageDelta:
    province_code: str
    commune_code: str
    requested: int = 0
    dispatched: int = 0
    check_ins: int = 0
    over_capacity: int = 0


@dataclass(slots=True)
class BorderRow:
    commune_code: str
    province_code: str
    effective_from: date | None


@dataclass(slots=True)
class DuplicateRow:
    volunteer_id: str
    province_code: str
    duplicate_of: str  # comma-separated, sorted


@dataclass(slots=True)
class DayRow:
    hub: str
    day: date
    closed_seq: int
    published_seq: int | None = None
    published_at: str | None = None


DayKey = tuple[str, date]  # (hub, day)
# (province, day, seq, figure, commune, hub, change, recorded_at): a restatement row
Restated = tuple[str, date, int, str, str, str, int, str | None]


@dataclass
class Wanted:
    """Entity rows a batch needs to see before it can be folded."""

    volunteers: set[str] = field(default_factory=set)
    teams: set[str] = field(default_factory=set)
    memberships: set[tuple[str, str]] = field(default_factory=set)  # (team_id, volunteer_id)
    team_days: set[tuple[date, str]] = field(default_factory=set)  # (day, team_id)
    duplicates: set[str] = field(default_factory=set)
    days: set[date] = field(default_factory=set)  # dates the batch counts facts of (closed?)


@dataclass
class Loaded:
    """The current rows for what :class:`Wanted` named (missing ones are simply absent)."""

    volunteers: dict[str, VolunteerRow] = field(default_factory=dict)
    teams: dict[str, TeamRow] = field(default_factory=dict)
    memberships: dict[tuple[str, str], bool] = field(default_factory=dict)
    team_days: set[tuple[date, str, str, str]] = field(default_factory=set)
    duplicates: dict[str, DuplicateRow] = field(default_factory=dict)
    days: dict[DayKey, DayRow] = field(default_factory=dict)  # closed days of the batch's dates


def _counters() -> defaultdict[Area, Counter[str]]:
    return defaultdict(Counter)


@dataclass
class Changes:
    """A batch's effect: counter deltas (added on write) and entity rows (replaced on write).

    Entity dicts start as the loaded rows; ``dirty_*`` name those the batch changed.
    """

    state: Loaded
    figures: defaultdict[Area, Counter[str]] = field(default_factory=_counters)
    daily: defaultdict[tuple[date, str, str], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    focus: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    affiliation: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    coverage: dict[tuple[date, str], CoverageDelta] = field(default_factory=dict)
    new_team_days: set[tuple[date, str, str, str]] = field(default_factory=set)
    border: dict[str, BorderRow] = field(default_factory=dict)
    dirty_volunteers: set[str] = field(default_factory=set)
    dirty_teams: set[str] = field(default_factory=set)
    dirty_memberships: set[tuple[str, str]] = field(default_factory=set)
    dirty_duplicates: set[str] = field(default_factory=set)
    dirty_days: set[DayKey] = field(default_factory=set)

    # Restatements: a counted contribution to a day its hub has closed (``state.days``), by the
    # event at ``seq`` from ``hub``, recorded at ``at``.
    hub: str = ""
    at: datetime | None = None
    restated: list[Restated] = field(default_factory=list)

    # Provenance: with ``trail`` set, every counted contribution of the event at ``seq`` is noted
    # as (figure, province, commune, day, seq, n): the index rows, from the very calls that count.
    seq: int = 0
    trail: list[tuple[str, str, str, date, int, int]] | None = None

    # Counted facts are kept per place (and day) while folding and spread over the campaign,
    # province and commune rows once, in settle(): a third of the work per event.
    at_place: defaultdict[tuple[str | None, str | None], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    at_place_daily: defaultdict[tuple[date, str | None, str | None], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )

    def count(
        self, province: str | None, commune: str | None, figure: str, n: int = 1, day: date | None = None
    ) -> None:
        """Add ``n`` to ``figure`` wherever a fact at ``province``/``commune`` counts."""
        self.at_place[(province, commune)][figure] += n
        if day is not None:
            self.at_place_daily[(day, province, commune)][figure] += n
            if self.trail is not None and n:
                self.trail.append((figure, province or "", commune or "", day, self.seq, n))
            if self.state.days and n and (self.hub, day) in self.state.days:
                self.restate(province or "", commune or "", day, {figure: n})

    def count_many(
        self, province: str | None, commune: str | None, figures: dict[str, int], day: date | None = None
    ) -> None:
        self.at_place[(province, commune)].update(figures)
        if day is not None:
            self.at_place_daily[(day, province, commune)].update(figures)
            if self.trail is not None:
                p, c, seq = province or "", commune or "", self.seq
                self.trail.extend((figure, p, c, day, seq, n) for figure, n in figures.items() if n)
            if self.state.days and (self.hub, day) in self.state.days:
                self.restate(province or "", commune or "", day, figures)

    def restate(self, province: str, commune: str, day: date, figures: dict[str, int]) -> None:
        """Note what the current event changes in a closed day's figures."""
        seq, hub, at = self.seq, self.hub, (self.at.isoformat() if self.at else None)
        self.restated.extend(
            (province, day, seq, figure, commune, hub, n, at) for figure, n in figures.items() if n
        )

    def settle(self) -> Changes:
        """Spread the per-place counts over their areas (into ``figures`` and ``daily``)."""
        for (province, commune), counts in self.at_place.items():
            for area in areas(province, commune):
                self.figures[area].update(counts)
        for (day, province, commune), counts in self.at_place_daily.items():
            for level, code in areas(province, commune):
                self.daily[(day, level, code)].update(counts)
        self.at_place.clear()
        self.at_place_daily.clear()
        return self

    def cover(self, day: date, point: str, province: str, commune: str) -> CoverageDelta:
        row = self.coverage.get((day, point))
        if row is None:
            row = self.coverage[(day, point)] = CoverageDelta(province, commune)
        return row
