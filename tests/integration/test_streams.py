"""Stream provisioning against a real server: idempotent, and the central stream converges."""

from __future__ import annotations

import asyncio
import time

from nats.aio.client import Client

from shared.envelope import event_subject
from shared.eventstore import EventStore
from shared.settings import Settings
from shared.streams import central_stream_config, ensure_stream, provision
from tests.integration.test_eventstore import env


async def test_provisioning_twice_changes_nothing(nc: Client, provisioned: Settings) -> None:
    """Running provision again on existing streams keeps their config and messages."""
    js = nc.jetstream()
    before = await js.stream_info(provisioned.event_stream)
    await provision(js, provisioned)
    after = await js.stream_info(provisioned.event_stream)
    assert after.config.allow_atomic
    assert after.config.allow_direct
    assert after.config.duplicate_window == before.config.duplicate_window


async def test_central_stream_sources_a_hub_stream(
    nc: Client, provisioned: Settings, store: EventStore
) -> None:
    """A subject-less central stream sourcing the hub's stream ends with every hub event."""
    js = nc.jetstream()
    name = f"VHUB_CENTRAL_{provisioned.hub.upper()}"
    await ensure_stream(
        js, central_stream_config(provisioned, [provisioned.hub], name, local_hub=provisioned.hub)
    )
    try:
        subject = event_subject(provisioned.hub, "registry", "volunteer", "v1")
        last = 0
        for i in range(20):
            last = (await store.append(subject, [env(store.hub, "v1", f"c{i}")], last)).last_seq
        deadline = time.monotonic() + 20
        while (await js.stream_info(name)).state.messages < 20:
            assert time.monotonic() < deadline, "central stream did not converge"
            await asyncio.sleep(0.05)  # polling a condition, bounded by the deadline
        assert (await js.stream_info(name)).state.messages == 20
    finally:
        await js.delete_stream(name)
