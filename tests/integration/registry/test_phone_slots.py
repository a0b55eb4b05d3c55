"""A registration in one append (issue 14): the phone's slots, their rare paths, and logs written
before them, against a real nats-server (services/registry/phones.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from nats.aio.client import Client

from services.registry.app import RegistryApp
from services.registry.domain.commands import RegisterVolunteer
from services.registry.service import Registry
from shared.aggregates import CommandContext
from shared.commands import CommandBus
from shared.eventstore import EventStore
from shared.ownership import owned_id
from shared.settings import Settings
from tests.integration.registry.conftest import Send
from tests.integration.registry.test_registry import VOLUNTEER, person
from tests.support.waiting import eventually


async def subjects(nc: Client, settings: Settings, aggregate: str) -> dict[str, int]:
    pattern = f"vhub.evt.{settings.hub}.registry.{aggregate}.>"
    info = await nc.jetstream().stream_info(settings.event_stream, subjects_filter=pattern)
    return dict(info.state.subjects or {})


async def erase(send: Send, volunteer_id: str) -> None:
    erased = await send("erase_volunteer", {"volunteer_id": volunteer_id, "reason": "subject_request"})
    assert erased["accepted"], erased


async def test_a_race_for_a_freed_phone_across_two_replicas_makes_one_volunteer(
    send: Send, start_registry: Callable[[], Awaitable[CommandBus]], nc: Client, provisioned: Settings
) -> None:
    """Slot 0 freed by an erasure, then 40 registrations of the number over two replicas: exactly
    one lands (on slot 1), the others are refused naming it, and no registration wrote a claim."""
    await start_registry()
    await start_registry()
    first = await send("register_volunteer", {**VOLUNTEER, "command_id": "first"})
    await erase(send, first["aggregate_id"])
    replies = await asyncio.gather(
        *(
            send("register_volunteer", {**VOLUNTEER, "full_name": f"Người {i}", "command_id": f"r{i}"}, 30)
            for i in range(40)
        )
    )
    accepted = [r for r in replies if r["accepted"]]
    assert len(accepted) == 1, replies
    winner = accepted[0]["aggregate_id"]
    assert winner != first["aggregate_id"]
    refused = [r for r in replies if not r["accepted"]]
    assert {r["code"] for r in refused} == {"duplicate_volunteer"}
    assert {r["details"]["existing_id"] for r in refused} == {winner}
    assert len(await subjects(nc, provisioned, "volunteer")) == 2  # the erased one and the winner
    assert await subjects(nc, provisioned, "phone") == {}  # registrations append nothing else


async def test_an_erased_volunteers_phone_registers_again(send: Send, registry: CommandBus) -> None:
    """After an erasure the number registers anew under a new id; the erased volunteer's own
    command sent again is refused volunteer_erased; a third registration names the new holder."""
    gone = (await send("register_volunteer", {**VOLUNTEER, "command_id": "gone"}))["aggregate_id"]
    await erase(send, gone)
    again = await send("register_volunteer", {**VOLUNTEER, "full_name": "Người Mới", "command_id": "new"})
    assert again["accepted"], again
    assert again["aggregate_id"] != gone
    resent = await send("register_volunteer", {**VOLUNTEER, "command_id": "gone"})
    assert resent["code"] == "volunteer_erased"
    assert (await send("register_volunteer", {**VOLUNTEER, "command_id": "new"}))["duplicate"] is True
    third = await send("register_volunteer", {**VOLUNTEER, "command_id": "third"})
    assert third["details"] == {"existing_id": again["aggregate_id"]}


async def test_phone_moves_free_and_take_numbers(send: Send, registry: CommandBus) -> None:
    """A number given up by update_volunteer registers someone else; a number taken by it
    refuses a registration and another move, naming the mover, until the mover moves on."""
    a = (await send("register_volunteer", person(1)))["aggregate_id"]
    moved = await send("update_volunteer", {"volunteer_id": a, "phone": person(2)["phone"]})
    assert moved["accepted"], moved
    b = await send("register_volunteer", person(3, phone=person(1)["phone"]))
    assert b["accepted"], b
    taken = await send("register_volunteer", person(4, phone=person(2)["phone"]))
    assert taken["code"] == "duplicate_volunteer"
    assert taken["details"] == {"existing_id": a}
    c = (await send("register_volunteer", person(5)))["aggregate_id"]
    onto = await send("update_volunteer", {"volunteer_id": c, "phone": person(2)["phone"]})
    assert onto["code"] == "duplicate_volunteer"
    back = await send("update_volunteer", {"volunteer_id": a, "phone": person(1)["phone"]})
    assert back["details"] == {"existing_id": b["aggregate_id"]}
    assert (await send("update_volunteer", {"volunteer_id": a, "phone": person(6)["phone"]}))["accepted"]
    freed = await send("register_volunteer", person(7, phone=person(2)["phone"]))
    assert freed["accepted"], freed
    await erase(send, a)  # a held person(6) through a claim: the erasure releases it
    assert (await send("register_volunteer", person(8, phone=person(6)["phone"])))["accepted"]


async def test_a_registration_resent_past_the_duplicate_window_gets_its_first_answer(
    send: Send, registry: CommandBus, nc: Client, provisioned: Settings
) -> None:
    """A registration resent (several times at once) after the server forgot its Msg-Id, with
    more events on the volunteer since: each is answered from the log (accepted, a duplicate, the
    same id), never an internal error. The scale-1.0 campaign's retried registrations hit this
    after the memberships: one resend's conflict dropped the snapshot the other had just read."""
    first = await send("register_volunteer", {**VOLUNTEER, "command_id": "late-resend"})
    moved = await send(
        "update_volunteer", {"volunteer_id": first["aggregate_id"], "full_name": "Người Đổi Tên"}
    )
    assert moved["accepted"], moved
    js = nc.jetstream()
    config = (await js.stream_info(provisioned.event_stream)).config
    config.duplicate_window = 0.2  # seconds: the window passes within the test
    await js.update_stream(config)
    probe = f"vhub.evt.{provisioned.hub}.registry.probe.p1"
    await js.publish(probe, b"{}", headers={"Nats-Msg-Id": "probe"})

    async def window_passed() -> bool:  # the probe's Msg-Id is forgotten: it is stored again
        return not (await js.publish(probe, b"{}", headers={"Nats-Msg-Id": "probe"})).duplicate

    await eventually(window_passed, "the duplicate window passed")
    resent = await asyncio.gather(  # the simulator resends while a reply is slow: several at once
        *(send("register_volunteer", {**VOLUNTEER, "command_id": "late-resend"}) for _ in range(10))
    )
    assert all(r["accepted"] and r["duplicate"] for r in resent), resent
    assert {r["aggregate_id"] for r in resent} == {first["aggregate_id"]}


def ctx(command_id: str) -> CommandContext:
    return CommandContext(command_id, command_id, "test", datetime.now(UTC))


async def test_a_claim_written_before_slots_still_refuses(
    store: EventStore, nc: Client, provisioned: Settings, send: Send
) -> None:
    """An old log: a phone claimed the old way (claim, then the volunteer under a command-id
    id). A replica started on it replays the claim and refuses the number, naming the old
    volunteer; once the old volunteer moves away, the number registers again."""
    old = Registry(store, provisioned)
    phone = old.pseudonym("phone", "+84987654321")
    legacy_id = owned_id(provisioned.hub, "volunteer", "old-reg")
    await old.claims.claim(phone, legacy_id, ctx("old-reg"))  # the old code's first append
    finished = await old.register_volunteer(RegisterVolunteer(**VOLUNTEER), ctx("old-reg"))
    assert finished.aggregate_id == legacy_id  # ... and its second, under the legacy id

    app = RegistryApp(nc, provisioned)
    await app.start()  # replays the log's claims before serving
    try:
        legacy = app.registry.claims.legacy
        assert legacy.complete
        assert legacy.held == {phone}
        refused = await send("register_volunteer", {**VOLUNTEER, "full_name": "Người Khác"})
        assert refused["code"] == "duplicate_volunteer"
        assert refused["details"] == {"existing_id": legacy_id}
        assert (await send("register_volunteer", {**VOLUNTEER, "command_id": "old-reg"}))["duplicate"]
        other = await send("register_volunteer", person(9))
        assert other["accepted"], other  # a number never claimed the old way: the one append
        moved = await send("update_volunteer", {"volunteer_id": legacy_id, "phone": "0911000111"})
        assert moved["accepted"], moved
        assert (await send("register_volunteer", {**VOLUNTEER, "full_name": "Người Khác"}))["accepted"]
    finally:
        await app.stop()
