"""A day's figures as dispatch publishes them when the day is closed (``DayFiguresPublished``).

Counted exactly as reporting counts its traced figures, from the same facts: a dispatch adds one
(a cancellation takes it back; a rotation one per shift), a check-in, a no-show and an
over-capacity conflict one each (a no-show withdrawn by a late check-in takes its one back), a
field report its seven counts and one report, and a correction of a report what each count moved
by. :class:`DayTally` keeps them per date and commune while the facts projection folds the log,
and takes the day's snapshot when it folds the day's ``DayClosed``: so the published figures are
those of the log before the close, whatever arrives between the close and the publication (those
are restatements, like any later fact).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from shared.events import Event
from shared.events.dispatch import (
    DAY_FIGURES,
    REPORT_COUNTS,
    ActivityReported,
    DayClosed,
    DispatchCancelled,
    DispatchMarkedNoShow,
    FieldReportCorrected,
    NoShowWithdrawn,
    OverCapacityRecorded,
    PlaceFigures,
    TeamCheckedIn,
    TeamDispatched,
    shift_facts,
)

_ONE = {
    TeamDispatched: ("dispatches", 1),
    DispatchCancelled: ("dispatches", -1),
    TeamCheckedIn: ("check_ins", 1),
    DispatchMarkedNoShow: ("no_shows", 1),
    NoShowWithdrawn: ("no_shows", -1),
    OverCapacityRecorded: ("over_capacity", 1),
}


def contribution(ev: Event) -> dict[str, int] | None:
    """What ``ev`` adds to its day's figures at its place (None: it counts nothing)."""
    one = _ONE.get(type(ev))
    if one is not None:
        return {one[0]: one[1]}
    if isinstance(ev, ActivityReported):
        counts = {name: getattr(ev, name) for name in REPORT_COUNTS}
        counts["activity_reports"] = 1
        return counts
    if isinstance(ev, FieldReportCorrected):
        return dict(ev.change)
    return None


_SLOT = {name: i for i, name in enumerate(DAY_FIGURES)}
# one place's figures of a day, in DAY_FIGURES order (a place-day of the campaign each: a Counter
# was ~290 bytes, this ~140); a Counter once a figure outside DAY_FIGURES comes (a correction's
# ``change`` is a free dict)
Counts = list[int] | Counter[str]


def _added(counts: Counts, moved: dict[str, int]) -> Counts:
    if isinstance(counts, list):
        if all(name in _SLOT for name in moved):
            for name, n in moved.items():
                counts[_SLOT[name]] += n
            return counts
        counts = Counter(dict(zip(DAY_FIGURES, counts, strict=True)))
    counts.update(moved)
    return counts


@dataclass
class DayTally:
    """Figures per date and (province, commune), and each closed date's snapshot."""

    days: dict[date, dict[tuple[str, str], Counts]] = field(default_factory=dict)
    at_close: dict[date, list[PlaceFigures]] = field(default_factory=dict)
    _places: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # one tuple each

    def apply(self, ev: Event) -> None:
        if isinstance(ev, DayClosed):
            self.at_close.setdefault(ev.date, self.places(ev.date))
            return
        for fact in shift_facts(ev):  # a rotation counts as one dispatch a shift
            counts = contribution(fact)
            if counts is None:
                continue
            place = (fact.province_code, fact.commune_code)  # type: ignore[attr-defined]  # every counted fact has them
            place = self._places.setdefault(place, place)
            day = self.days.setdefault(fact.date, {})  # type: ignore[attr-defined]  # and a date
            day[place] = _added(day.get(place) or [0] * len(DAY_FIGURES), counts)

    def places(self, day: date) -> list[PlaceFigures]:
        """The day's figures now, one entry per commune with any, in code order."""
        out = []
        for (province, commune), counts in sorted(self.days.get(day, {}).items()):
            named = counts.items() if isinstance(counts, Counter) else zip(DAY_FIGURES, counts, strict=True)
            figures = {k: n for k, n in named if n}
            if figures:
                out.append(PlaceFigures(province_code=province, commune_code=commune, figures=figures))
        return out

    def published(self, day: date) -> list[PlaceFigures] | None:
        """The figures as they stood when ``day`` was closed (None: not closed yet)."""
        return self.at_close.get(day)
