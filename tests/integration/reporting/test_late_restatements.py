"""A late check-in and a correction restate a published day, end to end: real dispatch and
reporting over a real nats-server, on SQLite and PostgreSQL. A check-in of a shift the close made a
no-show is accepted and restates check-ins +1 and no-shows -1; a correction of a report restates
the counts it moves; retries restate nothing; the figures stay the fold of the log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from nats.aio.client import Client

from services.reporting.app import ReportingApp
from shared.eventstore import EventStore
from tests.integration.dispatch.conftest import NOW, Ask, Registry, Start
from tests.integration.reporting import test_restatements as restating
from tests.integration.reporting.expected import expected_view
from tests.integration.reporting.observe import observed_view
from tests.integration.reporting.test_restatements import DAY, REPORT, _at, _day, _get

# dispatch's fixtures and reporting's, as test_restatements has them
ask, clock, registry, start_dispatch, reporting = (
    restating.ask,
    restating.clock,
    restating.registry,
    restating.start_dispatch,
    restating.reporting,
)


async def _restated(http: httpx.AsyncClient) -> dict[tuple[str, int], tuple[int, int, int, str]]:
    """Every restatement of the day in province 01: (figure, sequence) -> (published, restated,
    change, event type)."""
    listed = await _get(http, "/v1/restatements", province="01", **{"from": DAY.isoformat()})
    assert listed["total"] == len(listed["items"])
    return {
        (i["figure"], i["stream_sequence"]): (i["published"], i["restated"], i["change"], i["event_type"])
        for i in listed["items"]
    }


async def test_a_late_check_in_and_a_correction_restate_a_published_day(
    start_dispatch: Start,
    registry: Registry,
    reporting: ReportingApp,
    store: EventStore,
    ask: Ask,
    clock: Any,
    nc: Client,
) -> None:
    """Given a closed day with one check-in (a report of 10 people) and two no-shows, when one of
    them checks in afterwards (at a time within its shift), the no-show is withdrawn and check-ins
    1 -> 2, no-shows 2 -> 1 are restated, once (a retry restates nothing); when the report is
    corrected to 12 people, people supported 10 -> 12 is restated, once; a correction of a shift
    with no report is refused; the served figures are the fold of the log."""
    app = await start_dispatch("a")
    ids = await restating.three_dispatched(app, registry, ask)
    assert (await ask("check_in", dispatch_id=ids["t1"], at="2025-07-10T08:05:00+07:00"))["accepted"]
    first = await ask("report_activity", dispatch_id=ids["t1"], **{**REPORT, "people_supported": 10})
    assert first["accepted"], first
    clock.now = NOW + timedelta(hours=8)
    closed = await ask("close_day", command_id="close-1", date=DAY.isoformat())
    assert (closed["accepted"], closed["result"]["no_shows"]) == (True, 2), closed

    base = f"http://127.0.0.1:{reporting.server.port}"
    async with httpx.AsyncClient(base_url=base, timeout=15) as http:
        await _at(reporting, closed["version"])
        day = await _day(http)
        assert (day["check_ins"], day["no_shows"], day["people_supported"]) == (1, 2, 10)
        assert await _restated(http) == {}

        outside = await ask("check_in", dispatch_id=ids["t3"], at="2025-07-10T13:30:00+07:00")
        assert (outside["accepted"], outside["code"]) == (False, "outside_shift_window")
        late = {"dispatch_id": ids["t2"], "at": "2025-07-10T08:20:00+07:00"}
        arrived = await ask("check_in", command_id="late-in", **late)
        assert arrived["accepted"], arrived
        kinds = [e["event_type"] for e in arrived["events"]]
        assert kinds == ["dispatch.no_show_withdrawn", "dispatch.team_checked_in"]
        retried = await ask("check_in", command_id="late-in", **late)
        assert retried["duplicate"]
        again = await ask("check_in", command_id="late-in-2", **late)
        assert (again["accepted"], again["code"]) == (False, "already_checked_in")
        await _at(reporting, arrived["version"])
        withdrawn, checked_in = (e["seq"] for e in arrived["events"])
        assert await _restated(http) == {
            ("no_shows", withdrawn): (2, 1, -1, "dispatch.no_show_withdrawn"),
            ("check_ins", checked_in): (1, 2, 1, "dispatch.team_checked_in"),
        }

        unknown = await ask("correct_field_report", dispatch_id=ids["t3"], people_supported=4)
        assert (unknown["accepted"], unknown["code"]) == (False, "unknown_report")
        implausible = await ask("correct_field_report", dispatch_id=ids["t1"], session_attendees=5)
        assert (implausible["accepted"], implausible["code"]) == (False, "attendees_without_session")
        fix = {"dispatch_id": ids["t1"], "people_supported": 12}
        corrected = await ask("correct_field_report", command_id="fix-1", **fix)
        assert corrected["accepted"], corrected
        [event] = corrected["events"]
        assert event["event_type"] == "dispatch.field_report_corrected"
        assert (await ask("correct_field_report", command_id="fix-1", **fix))["duplicate"]
        same = await ask("correct_field_report", command_id="fix-2", **fix)
        assert (same["accepted"], same["events"]) == (True, [])  # nothing moves: nothing recorded
        await _at(reporting, corrected["version"])
        restated = await _restated(http)
        assert len(restated) == 3
        assert restated[("people_supported", event["seq"])] == (
            10,
            12,
            2,
            "dispatch.field_report_corrected",
        )

        day = await _day(http)
        assert (day["check_ins"], day["no_shows"], day["people_supported"]) == (2, 1, 12)
        assert (day["activity_reports"], day["published"]) == (1, True)
        log = [(r.subject, r.envelope) for r in await store.read(f"vhub.evt.{store.hub}.>")]
        expected = expected_view(log, ["01"], [DAY])
        observed = await observed_view(http, ["01"], [DAY])
    for key in expected:
        assert observed[key] == expected[key], key
