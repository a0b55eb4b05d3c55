"""Restatements in the pure projection: a counted fact of a day its hub closed is a restatement,
a fact of another hub or of an open day is not; which hub's publication speaks for a province."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.reporting.projections import Loaded, fold
from services.reporting.restatements import covers
from shared.events import dispatch as d

DAY, AT = date(2025, 7, 2), datetime(2025, 7, 3, 9, tzinfo=UTC)


def report(people: int, day: date = DAY) -> d.ActivityReported:
    return d.ActivityReported(
        service_point_id="sp1",
        province_code="01",
        commune_code="00004",
        date=day,
        dispatch_id="t1:1",
        team_id="t1",
        people_supported=people,
        businesses_supported=0,
        officials_supported=0,
        online_applications_guided=0,
        digital_sessions_held=0,
        session_attendees=0,
        elderly_attendees=0,
    )


def test_only_facts_after_their_hubs_close_are_restatements() -> None:
    """Given hub hn closes the day after one report, a later hn report of that day restates people
    supported and activity reports; a report of another hub, or of the next day, restates nothing;
    the publication is recorded against the close."""
    events = [
        report(10),
        d.DayClosed(hub="hn", date=DAY, no_shows=0),
        d.DayFiguresPublished(hub="hn", date=DAY, places=[]),
        report(7),
        report(3),
        report(4, date(2025, 7, 3)),
    ]
    origins = [(1, "hn", AT), (2, "hn", AT), (3, "hn", AT), (4, "hn", AT), (5, "hcm", AT), (6, "hn", AT)]
    changes = fold(events, Loaded(), origins)
    restated = sorted((seq, figure, n) for _, _, seq, figure, _, _, n, _ in changes.restated)
    assert restated == [(4, "activity_reports", 1), (4, "people_supported", 7)]
    row = changes.state.days[("hn", DAY)]
    assert (row.closed_seq, row.published_seq, row.published_at) == (2, 3, AT.isoformat())
    assert changes.daily[(DAY, "province", "01")]["people_supported"] == 20  # every fact still counts


def test_a_hubs_publication_speaks_for_its_own_provinces() -> None:
    """At central, Hà Nội's hub publishes for province 01 and not for 79; a hub outside the hub
    list (dev, tests) speaks for every province; any hub's publication counts for the campaign."""
    assert covers("hn", "01")
    assert not covers("hn", "79")
    assert covers("hcm", "79")
    assert covers("t123", "79")
    assert covers("hcm", None)
