"""Hostile ingest facts (issue 10, defects 1 and 2) and a server ``-ERR``: ingest never wedges,
every dead letter fits the server's max payload, and a service comes back after its connection
is closed by the server."""

from __future__ import annotations

import hashlib
import json

from nats.aio.client import Client
from nats.aio.msg import Msg

from services.dispatch.app import DispatchApp
from shared.envelope import (
    H_DLQ_BODY_SHA256,
    H_DLQ_REASON,
    H_DLQ_TRUNCATED,
    dlq_subject,
    event_subject,
    ingest_subject,
)
from shared.runtime import link_of
from shared.settings import Settings
from tests.integration.dispatch.conftest import Ask, Registry, known
from tests.integration.dispatch.test_ingest import first_of
from tests.support.waiting import eventually


async def letters(nc: Client, settings: Settings, count: int) -> list[Msg]:
    """The first ``count`` dead letters of dispatch's ingest (waits for them, with a deadline)."""
    sub = await nc.jetstream().pull_subscribe(
        dlq_subject(settings.hub, "dispatch_ingest"), durable=None, stream=settings.dlq_stream
    )
    out: list[Msg] = []
    try:
        while len(out) < count:
            out.extend(await sub.fetch(count - len(out), timeout=20))
    finally:
        await sub.unsubscribe()
    return out


async def checked_in(registry: Registry, dispatch: DispatchApp, ask: Ask) -> str:
    await registry.team("t1")
    await known(dispatch, await registry.point("p1"))
    reply = await ask(
        "dispatch_team",
        team_id="t1",
        service_point_id="p1",
        starts_at="2025-07-10T08:00:00+07:00",
        ends_at="2025-07-10T12:00:00+07:00",
    )
    did: str = reply["result"]["dispatch_id"]
    assert (await ask("check_in", dispatch_id=did, at="2025-07-10T08:00:00+07:00"))["accepted"]
    return did


async def test_a_fact_nested_ten_thousand_deep_is_dead_lettered_and_the_next_one_recorded(
    dispatch: DispatchApp, registry: Registry, ask: Ask, nc: Client, provisioned: Settings
) -> None:
    """Defect 1: 10,000 levels of JSON (json.loads raises RecursionError on them) go to the DLQ
    with a reason, and the valid fact published behind them is recorded."""
    did = await checked_in(registry, dispatch, ask)
    js = nc.jetstream()
    subject = ingest_subject(provisioned.hub, "activity_reported")
    await js.publish(subject, b'{"a":' * 10_000 + b"1" + b"}" * 10_000, stream=provisioned.ingest_stream)
    good = {"fact_id": "after-the-deep-one", "dispatch_id": did, "people_supported": 5}
    await js.publish(subject, json.dumps(good).encode(), stream=provisioned.ingest_stream)
    [letter] = await letters(nc, provisioned, 1)
    assert (letter.headers or {})[H_DLQ_REASON].startswith("invalid_fact"), letter.headers
    await first_of(
        nc,
        provisioned,
        event_subject(provisioned.hub, "dispatch", "schedule", "t1"),
        "dispatch.activity_reported",
    )


async def test_a_fact_near_the_max_payload_gets_a_dead_letter_that_fits_and_dispatch_stays_on_nats(
    dispatch: DispatchApp, registry: Registry, ask: Ask, nc: Client, provisioned: Settings
) -> None:
    """Defect 2: a malformed fact just under the server's max payload is dead-lettered (its body
    truncated, with its size and sha256 digest), dispatch keeps its connection, and commands are
    still answered."""
    await checked_in(registry, dispatch, ask)
    body = b'{"dispatch_id": "' + b"x" * (nc.max_payload - 64)  # unterminated: not JSON
    body = body[: nc.max_payload - 16]
    # a core publish: the body alone fits, with no header of the test's own to push it over
    await nc.publish(ingest_subject(provisioned.hub, "activity_reported"), body)
    await nc.flush()
    [letter] = await letters(nc, provisioned, 1)
    headers = letter.headers or {}
    assert headers[H_DLQ_REASON].startswith("invalid_fact"), headers
    assert headers[H_DLQ_TRUNCATED] == str(len(body))
    assert headers[H_DLQ_BODY_SHA256] == hashlib.sha256(body).hexdigest()
    assert body.startswith(letter.data)
    assert len(letter.data) < len(body)
    assert dispatch.nc.is_connected
    assert link_of(dispatch.nc).lost_since is None
    assert (await ask("check_in", dispatch_id="t9:nothing", at="2025-07-10T08:00:00+07:00"))[
        "accepted"
    ] is False


async def test_a_service_reconnects_and_resubscribes_after_the_server_closes_its_connection(
    dispatch: DispatchApp, ask: Ask
) -> None:
    """A publish over the max payload (headers count, nats-py checks only the body) makes the
    server send -ERR and close the connection: dispatch reconnects, its command subscriptions
    come back, and its link state says when it was lost and when it is connected again."""
    link = link_of(dispatch.nc)
    before = link.reconnects
    pad = {"X-Pad": "p" * 256}
    await dispatch.nc.publish("vhub.test.oversize", b"0" * (dispatch.nc.max_payload - 16), headers=pad)
    await eventually(lambda: link.reconnects > before and dispatch.nc.is_connected, "dispatch reconnected")
    assert link.lost_since is None
    assert link.connected_since is not None
    assert link.last_lost_at is not None
    reply = await ask("check_in", dispatch_id="t9:nothing", at="2025-07-10T08:00:00+07:00")
    assert reply["accepted"] is False


async def test_a_fact_of_a_type_nobody_reads_is_dead_lettered_not_left_waiting(
    dispatch: DispatchApp, nc: Client, provisioned: Settings
) -> None:
    """Found by the ingest property test: a fact on ``vhub.ingest.<hub>.<other type>`` sat in the
    work queue forever (no consumer read it); it is dead-lettered as ``unknown_fact_type``."""
    await nc.jetstream().publish(
        ingest_subject(provisioned.hub, "volunteer_imported"), b"{}", stream=provisioned.ingest_stream
    )
    [letter] = await letters(nc, provisioned, 1)
    assert (letter.headers or {})[H_DLQ_REASON].startswith("unknown_fact_type"), letter.headers


async def test_facts_with_a_status_header_are_dead_lettered_and_ingest_goes_on(
    dispatch: DispatchApp, registry: Registry, ask: Ask, nc: Client, provisioned: Settings
) -> None:
    """Found by the ingest property test: nats-py's fetch takes any message with a ``Status``
    header for a JetStream status (``Status: 0`` made it raise on every redelivery, ``Status: 404``
    was dropped unacknowledged). Both are dead-lettered, and the valid fact behind them recorded."""
    did = await checked_in(registry, dispatch, ask)
    js = nc.jetstream()
    subject = ingest_subject(provisioned.hub, "activity_reported")
    await js.publish(subject, b"", headers={"Status": "0"}, stream=provisioned.ingest_stream)
    await js.publish(subject, b"", headers={"Status": "404"}, stream=provisioned.ingest_stream)
    good = {"fact_id": "after-the-status-ones", "dispatch_id": did, "people_supported": 5}
    await js.publish(subject, json.dumps(good).encode(), stream=provisioned.ingest_stream)
    reasons = [(m.headers or {})[H_DLQ_REASON] for m in await letters(nc, provisioned, 2)]
    assert all(r.startswith("invalid_fact") for r in reasons), reasons
    await first_of(
        nc,
        provisioned,
        event_subject(provisioned.hub, "dispatch", "schedule", "t1"),
        "dispatch.activity_reported",
    )
