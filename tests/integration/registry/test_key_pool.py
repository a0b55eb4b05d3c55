"""Data keys made ahead (issue 14, services/registry/keypool.py) on a real nats-server: a
registration seals with a key already durable in the bucket before the command arrived, a key that
sealed nothing serves the next registration, and events sealed the old way (the key named by the
volunteer id) still open and are erased by purging that key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from nats.aio.client import Client
from nats.js.errors import KeyDeletedError, KeyNotFoundError

from services.registry.app import RegistryApp
from services.registry.domain import volunteer
from services.registry.domain.commands import EraseVolunteer, RegisterVolunteer
from services.registry.erasures import erasure_report
from services.registry.keybundles import locate
from services.registry.privacy import Privacy
from services.registry.service import Registry
from shared.aggregates import CommandContext
from shared.eventstore import EventStore
from shared.settings import Settings
from shared.transaction import Target
from tests.integration.registry.test_registry import VOLUNTEER
from tests.support.waiting import eventually


def ctx(command_id: str) -> CommandContext:
    return CommandContext(command_id, command_id, "test", datetime.now(UTC))


def body(phone: str) -> RegisterVolunteer:
    return RegisterVolunteer(**{**VOLUNTEER, "phone": phone})


async def test_a_registration_seals_with_a_key_written_before_the_command_arrived(
    nc: Client, provisioned: Settings
) -> None:
    """Given a replica whose pool has filled, when a volunteer registers, then their events name a
    key that was in the bucket before the command was sent, and the volunteer's state keeps it."""
    app = RegistryApp(nc, provisioned.model_copy(update={"instance": "kp"}), catch_up_s=30)
    await app.start()
    try:

        async def filled() -> bool:
            return len(app.registry.key_pool) > 0

        await eventually(filled, "the pool holds ready keys", 30)
        kv = await nc.jetstream().key_value(provisioned.keys_bucket)
        before = set(await kv.keys())
        vid = (await app.registry.register_volunteer(body("0911222001"), ctx("kp-reg"))).aggregate_id
        state = (await Registry(app.registry.store, provisioned).volunteers.load(vid)).state
        assert state.key_id is not None
        assert state.key_id != vid
        assert locate(state.key_id)[0] in before
        assert state.full_name == VOLUNTEER["full_name"]  # opened by a replica with no caches
    finally:
        await app.stop()


async def test_a_key_that_sealed_nothing_serves_the_next_registration(
    store: EventStore, provisioned: Settings
) -> None:
    """Given a registry with no refill running, when a registration is sent again (answered from
    the log) and then another volunteer registers, then the resend seals nothing, its key goes
    back to the pool, and the next registration takes it: every registration its own key."""
    registry = Registry(store, provisioned)
    first = await registry.register_volunteer(body("0911222002"), ctx("kp-a"))
    again = await registry.register_volunteer(body("0911222002"), ctx("kp-a"))
    assert again.duplicate
    assert len(registry.key_pool) == 1  # made for the resend, given back unused
    other = await registry.register_volunteer(body("0911222003"), ctx("kp-b"))
    assert len(registry.key_pool) == 0
    keys = [(await registry.volunteers.load(v.aggregate_id)).state.key_id for v in (first, other)]
    assert None not in keys
    assert len(set(keys)) == 2


async def test_events_sealed_under_the_volunteer_id_still_open_and_erase(
    nc: Client, store: EventStore, provisioned: Settings
) -> None:
    """Given a registration sealed as before issue 14 (its key named by the volunteer id), when a
    replica with no caches loads it and then erases the volunteer, then it opens as it is, the
    erasure purges that key, and the erasure report says the key is gone."""
    writer = Registry(store, provisioned)
    vid = "old-form-volunteer"
    await writer.keys.create(vid)
    command = body("0911222004")
    fields = volunteer.validate_registration(command, datetime.now(UTC).date())
    await writer.writer.write(
        ctx("kp-old"),
        Target(writer.volunteers, vid, new=True),
        lambda s: volunteer.register(
            s,
            command,
            volunteer_id=vid,
            today=datetime.now(UTC).date(),
            possible_duplicates=[],
            fields=fields,
        ),
    )
    fresh = Registry(store, provisioned)
    state = (await fresh.volunteers.load(vid)).state
    assert (state.key_id, state.full_name) == (vid, VOLUNTEER["full_name"])
    await Privacy(fresh).erase_volunteer(EraseVolunteer(volunteer_id=vid, reason="legal_order"), ctx("kp-er"))
    kv = await nc.jetstream().key_value(provisioned.keys_bucket)
    with pytest.raises((KeyDeletedError, KeyNotFoundError)):
        await kv.get(vid)
    report = await erasure_report(nc.jetstream(), provisioned.event_stream, provisioned.hub, fresh.keys)
    assert [(e.volunteer_id, e.key_deleted) for e in report if e.volunteer_id == vid] == [(vid, True)]
