"""`vhub dlq` on a real dispatch: a fact refused for a cause that is later fixed is replayed once.

A field report that arrives before its team checked in is refused (``not_checked_in``) and
dead-lettered; once the team has checked in, `vhub dlq replay SEQ` re-submits it to its ingest
subject and dispatch records it; a second replay is refused, and the letter shows as replayed.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

from nats.aio.client import Client

from services.dispatch.app import DispatchApp
from shared.envelope import event_subject, ingest_subject
from shared.eventstore import EventStore
from shared.settings import Settings
from tests.integration.dispatch.conftest import Ask, Registry, known
from tests.integration.dispatch.test_ingest import first_of
from tests.support.cli import vhub_dlq
from tests.support.waiting import eventually


async def dlq(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(vhub_dlq, settings, *args)


async def listed(settings: Settings) -> list[dict[str, Any]]:
    done = await dlq(settings, "list", "--source", "dispatch_ingest", "--since", "1h", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


async def test_a_report_refused_before_check_in_is_replayed_once_after_it(
    dispatch: DispatchApp, registry: Registry, store: EventStore, ask: Ask, nc: Client, provisioned: Settings
) -> None:
    """The letter lists and shows with its reason and original subject (its body only with
    --body); after the check-in, one replay records the report; a second replay is refused."""
    await registry.team("t1")
    await known(dispatch, await registry.point("p1"))
    shift = {
        "team_id": "t1",
        "service_point_id": "p1",
        "starts_at": "2025-07-10T08:00:00+07:00",
        "ends_at": "2025-07-10T12:00:00+07:00",
    }
    did = (await ask("dispatch_team", **shift))["result"]["dispatch_id"]
    fact = {"fact_id": "field-app-early", "dispatch_id": did, "people_supported": 9}
    subject = ingest_subject(provisioned.hub, "activity_reported")
    await nc.jetstream().publish(subject, json.dumps(fact).encode(), stream=provisioned.ingest_stream)

    letters: list[dict[str, Any]] = []

    async def dead_lettered() -> bool:
        letters[:] = await listed(provisioned)
        return len(letters) == 1

    await eventually(dead_lettered, "the early report is dead-lettered")
    [letter] = letters
    assert letter["code"] == "not_checked_in"
    assert letter["subject"] == subject
    assert letter["replay"] == "new"
    seq = str(letter["seq"])

    shown = await dlq(provisioned, "show", seq)
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["reason"].startswith("not_checked_in")
    assert detail["original_seq"] >= 1
    assert "body" not in detail  # a fact may hold personal data: only with --body
    assert "field-app-early" not in shown.stdout
    with_body = json.loads((await dlq(provisioned, "show", seq, "--body")).stdout)
    assert with_body["body"] == fact

    assert (await ask("check_in", dispatch_id=did, at="2025-07-10T08:05:00+07:00"))["accepted"]
    replayed = await dlq(provisioned, "replay", seq)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr

    schedule = event_subject(provisioned.hub, "dispatch", "schedule", "t1")
    await first_of(nc, provisioned, schedule, "dispatch.activity_reported")
    again = await dlq(provisioned, "replay", seq)
    assert again.returncode == 1
    assert "already replayed" in again.stdout
    [after] = await listed(provisioned)  # the replay was recorded, not refused into a new letter
    assert after["replay"] == "replayed"
    assert dispatch.ingest.recorded == 1
    assert dispatch.ingest.refused == 1
    reports = [r for r in await store.read(schedule) if r.envelope.event_type == "dispatch.activity_reported"]
    assert len(reports) == 1
