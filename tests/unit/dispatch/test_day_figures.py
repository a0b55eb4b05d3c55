"""The figures close_day publishes are counted as reporting counts them: for every closed day of a
generated campaign, dispatch's snapshot at the day's close equals reporting's fold of the same log
prefix, commune by commune (no I/O)."""

from __future__ import annotations

from services.dispatch.domain.dayfigures import DayTally
from services.reporting.projections import Loaded, fold
from shared.events import dispatch as d
from shared.upcast import decode
from tests.integration.reporting.campaign import generate


def test_published_day_figures_equal_reporting_fold_at_the_close() -> None:
    """Given a five-day campaign with late reports, each day's published figures equal the
    reporting fold of everything before that day's DayClosed, and later facts do not move them."""
    events = [decode(env) for _, env in generate("hub", volunteers=200, teams=20, days=5, late_reports=3)]
    tally = DayTally()
    closes = 0
    for n, event in enumerate(events):
        tally.apply(event)
        if not isinstance(event, d.DayClosed):
            continue
        closes += 1
        daily = fold(events[:n], Loaded()).daily
        served = {
            code: {f: c for f, c in counts.items() if c and f in d.DAY_FIGURES}
            for (day, level, code), counts in daily.items()
            if day == event.date and level == "commune"
        }
        published = tally.published(event.date)
        assert published is not None
        assert {p.commune_code: p.figures for p in published} == {k: v for k, v in served.items() if v}
    assert closes == 5
    first = tally.published(events[-1].date)  # type: ignore[attr-defined]  # the last is a late report
    assert first is not None
    assert tally.places(events[-1].date) != first  # type: ignore[attr-defined]  # it moved the day, not its publication
