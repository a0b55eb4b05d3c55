"""Field reports from outside systems: same validation, failures dead-lettered with the reason."""

from __future__ import annotations

import json

from nats.aio.client import Client

from services.dispatch.app import DispatchApp
from shared.envelope import H_DLQ_REASON, Envelope, dlq_subject, event_subject, ingest_subject
from shared.eventstore import EventStore
from shared.settings import Settings
from tests.integration.dispatch.conftest import Ask, Registry, Start, known


async def dead_letters(nc: Client, settings: Settings, count: int) -> list[str]:
    """The reasons of the first ``count`` dead letters (waits for them, with a deadline)."""
    js = nc.jetstream()
    sub = await js.pull_subscribe(
        dlq_subject(settings.hub, "dispatch_ingest"), durable=None, stream=settings.dlq_stream
    )
    reasons: list[str] = []
    while len(reasons) < count:
        for msg in await sub.fetch(count - len(reasons), timeout=10):
            reasons.append((msg.headers or {})[H_DLQ_REASON])
            await msg.ack()
    await sub.unsubscribe()
    return reasons


async def first_of(nc: Client, settings: Settings, subject: str, event_type: str) -> None:
    """Wait (with a deadline) until ``subject`` holds an event of ``event_type``."""
    sub = await nc.jetstream().pull_subscribe(subject, durable=None, stream=settings.event_stream)
    try:
        while True:
            for msg in await sub.fetch(1, timeout=10):
                await msg.ack()
                if Envelope.from_bytes(msg.data).event_type == event_type:
                    return
    finally:
        await sub.unsubscribe()


async def test_malformed_facts_are_dead_lettered_and_good_ones_still_recorded(
    dispatch: DispatchApp, registry: Registry, store: EventStore, ask: Ask, nc: Client, provisioned: Settings
) -> None:
    """Not JSON, a wrong shape, an unknown dispatch, a negative count and an implausible count
    each land in the DLQ with their reason; the good report sent after them is recorded."""
    await registry.team("t1")
    await known(dispatch, await registry.point("p1"))
    did = (
        await ask(
            "dispatch_team",
            team_id="t1",
            service_point_id="p1",
            starts_at="2025-07-10T08:00:00+07:00",
            ends_at="2025-07-10T12:00:00+07:00",
        )
    )["result"]["dispatch_id"]
    assert (await ask("check_in", dispatch_id=did, at="2025-07-10T08:00:00+07:00"))["accepted"]
    js = nc.jetstream()
    subject = ingest_subject(provisioned.hub, "activity_reported")
    bad: list[bytes] = [
        b"{not json",
        json.dumps({"people_supported": 3}).encode(),
        json.dumps({"dispatch_id": "t9:abc123", "people_supported": 3}).encode(),
        json.dumps({"dispatch_id": did, "people_supported": -2}).encode(),
        json.dumps({"dispatch_id": did, "people_supported": 90_000}).encode(),
    ]
    for body in bad:
        await js.publish(subject, body, stream=provisioned.ingest_stream)
    good = {
        "fact_id": "field-app-77",
        "dispatch_id": did,
        "people_supported": 40,
        "online_applications_guided": 12,
    }
    await js.publish(subject, json.dumps(good).encode(), stream=provisioned.ingest_stream)

    reasons = await dead_letters(nc, provisioned, len(bad))
    assert [r.split(":")[0] for r in reasons] == [
        "invalid_fact",
        "invalid_command",
        "unknown_dispatch",
        "negative_count",
        "implausible_report",
    ]
    assert "dispatch_id" in reasons[1]
    schedule = event_subject(provisioned.hub, "dispatch", "schedule", "t1")
    await first_of(nc, provisioned, schedule, "dispatch.activity_reported")
    reports = [
        r.envelope
        for r in await store.read(schedule)
        if r.envelope.event_type == "dispatch.activity_reported"
    ]
    assert len(reports) == 1
    assert reports[0].data["source"] == "ingest"
    assert reports[0].data["people_supported"] == 40
    assert reports[0].command_id == "field-app-77"


async def test_replicas_share_the_ingest_consumer_and_record_each_fact_once(
    start_dispatch: Start,
    registry: Registry,
    store: EventStore,
    ask: Ask,
    nc: Client,
    provisioned: Settings,
) -> None:
    """Two replicas pull from the one ingest consumer: twenty reports (one sent twice, as an
    outside system retrying with the same fact id) give twenty ActivityReported, no more."""
    a, b = await start_dispatch("a"), await start_dispatch("b")
    for n in range(20):
        await registry.team(f"t{n}")
    seq = await registry.point("p1")
    await known(a, seq)
    await known(b, seq)
    ids = []
    for n in range(20):
        reply = await ask(
            "dispatch_team",
            team_id=f"t{n}",
            service_point_id="p1",
            starts_at="2025-07-10T08:00:00+07:00",
            ends_at="2025-07-10T12:00:00+07:00",
        )
        ids.append(reply["result"]["dispatch_id"])
        assert (await ask("check_in", dispatch_id=ids[-1], at="2025-07-10T08:00:00+07:00"))["accepted"]
    js = nc.jetstream()
    subject = ingest_subject(provisioned.hub, "activity_reported")
    for n, did in [*enumerate(ids), (0, ids[0])]:
        body = {"fact_id": f"fact-{n}", "dispatch_id": did, "people_supported": n}
        await js.publish(subject, json.dumps(body).encode(), stream=provisioned.ingest_stream)
    for n in range(20):
        await first_of(
            nc,
            provisioned,
            event_subject(provisioned.hub, "dispatch", "schedule", f"t{n}"),
            "dispatch.activity_reported",
        )
    reports = 0
    for n in range(20):
        history = await store.read(event_subject(provisioned.hub, "dispatch", "schedule", f"t{n}"))
        reports += sum(r.envelope.event_type == "dispatch.activity_reported" for r in history)
    assert reports == 20
