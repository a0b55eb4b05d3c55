"""A group folded part by part (as the rebuild's fold worker does) writes what one fold writes."""

from __future__ import annotations

from datetime import UTC, datetime

from services.reporting import models
from services.reporting.plan import Planner
from services.reporting.projections import Changes, Loaded, fold, fold_into
from services.reporting.store import GroupSummary, Item
from shared.events import Event
from shared.events import dispatch as d
from tests.unit.reporting.test_fold import formed, registered, shift

AT = datetime(2025, 7, 2, 9, tzinfo=UTC)


def _log() -> list[Event]:
    events: list[Event] = [registered(f"v{i}") for i in range(6)]
    events += [formed("t1"), formed("t2")]
    events += [shift(d.TeamCheckedIn, "t1", 1), shift(d.TeamCheckedIn, "t2", 2), registered("v0")]
    return events


def test_a_group_folded_in_parts_plans_the_same_statements_as_one_fold() -> None:
    """Given a group of events, when it is folded in three parts into one unsettled change set,
    then its planned statements (rows, trail included) equal those of one fold of the whole."""
    events = _log()
    origins = [(seq, "hn", AT) for seq in range(1, len(events) + 1)]
    tables, planner = models.TABLES["green"], Planner(postgres=False)
    whole = planner.plan(tables, fold(events, Loaded(), origins, trail=True))
    parts = Changes(state=Loaded())
    parts.trail = []
    for start in (0, 4, 7):
        end = {0: 4, 4: 7, 7: len(events)}[start]
        fold_into(parts, events[start:end], origins[start:end])
    assert planner.plan(tables, parts.settle()) == whole
    assert any(s.rows for s in whole)


def test_the_summary_of_a_group_s_parts_is_the_summary_of_the_group() -> None:
    """Given items of two hubs (events, unreadable ones, ignored ones), when their summary is made
    part by part and joined, then it equals the summary of all of them at once."""
    events = _log()
    items = [
        Item(1, None, None),  # unreadable: dead-lettered by the live projection
        *(Item(i + 2, e, AT, False, "hn" if i % 3 else "hcm") for i, e in enumerate(events)),
        Item(len(events) + 2, None, AT, True, "hn"),  # a known event no figure reads
    ]
    parts = [GroupSummary.of(items[a:b]) for a, b in ((0, 1), (1, 5), (5, len(items)))]
    assert GroupSummary.joined(parts) == GroupSummary.of(items)
    assert GroupSummary.of(items).dead_lettered == 1
