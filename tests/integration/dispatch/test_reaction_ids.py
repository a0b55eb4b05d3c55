"""A reaction carries the ids of what caused it: the causing event's correlation id, and its event
id as the causation id (over-capacity records; shifts cancelled when a team is disbanded)."""

from __future__ import annotations

from datetime import date

from services.dispatch.app import DispatchApp
from services.dispatch.domain.model import owner_of
from shared.envelope import Envelope, event_subject
from shared.eventstore import EventStore
from tests.integration.dispatch.conftest import Ask, Registry, known

SHIFT = {
    "service_point_id": "p1",
    "starts_at": "2025-07-11T08:00:00+07:00",
    "ends_at": "2025-07-11T12:00:00+07:00",
}


async def last_of(store: EventStore, subject: str, event_type: str) -> Envelope:
    found = [r.envelope for r in await store.read(subject) if r.envelope.event_type == event_type]
    assert found, f"no {event_type} on {subject}"
    return found[-1]


async def test_an_over_capacity_record_carries_the_ids_of_the_dispatch_that_caused_it(
    dispatch: DispatchApp, registry: Registry, store: EventStore, ask: Ask
) -> None:
    """The dispatch that overfills a point (correlation id corr-over) leads to an over-capacity
    record with that correlation id, caused by its TeamDispatched event."""
    await registry.team("t1")
    await registry.team("t2")
    await known(dispatch, await registry.point("p1"))
    req = await ask(
        "request_coverage",
        service_point_id="p1",
        date="2025-07-11",
        starts_at="08:00",
        ends_at="12:00",
        teams_needed=1,
    )
    rid = req["result"]["request_id"]
    first = await ask("dispatch_team", team_id="t1", coverage_request_id=rid, **SHIFT)
    await known(dispatch, first["version"])
    over = await ask(
        "dispatch_team", team_id="t2", coverage_request_id=rid, correlation_id="corr-over", **SHIFT
    )
    assert [w["code"] for w in over["warnings"]] == ["over_capacity"]
    [dispatched] = [e for e in over["events"] if e["event_type"] == "dispatch.team_dispatched"]
    did = over["result"]["dispatch_id"]
    assert await dispatch.projection.wait_until(lambda v: did in v.over_capacity_recorded, within=10)
    point_day = owner_of(rid)
    assert point_day is not None
    coverage = event_subject(store.hub, "dispatch", "coverage", point_day)
    recorded = await last_of(store, coverage, "dispatch.over_capacity_recorded")
    assert recorded.correlation_id == "corr-over"
    assert recorded.causation_id == dispatched["event_id"]


async def test_shifts_cancelled_for_a_disbanded_team_carry_the_disbanding_ids(
    dispatch: DispatchApp, registry: Registry, store: EventStore, ask: Ask
) -> None:
    """The cancellation of a disbanded team's shift ahead has the TeamDisbanded event's
    correlation id, and that event as its cause."""
    await registry.team("t1")
    await known(dispatch, await registry.point("p1"))
    shift = await ask("dispatch_team", team_id="t1", **SHIFT)
    assert shift["accepted"], shift
    seq = await registry.disband("t1")
    await known(dispatch, seq)
    disbanded = await last_of(
        store, event_subject(store.hub, "registry", "team", "t1"), "registry.team_disbanded"
    )
    schedule = event_subject(store.hub, "dispatch", "schedule", "t1")
    assert await dispatch.projection.wait_until(lambda v: not v.open_teams(date(2025, 7, 11)), within=10)
    cancelled = await last_of(store, schedule, "dispatch.dispatch_cancelled")
    assert cancelled.correlation_id == disbanded.correlation_id
    assert cancelled.causation_id == disbanded.event_id
