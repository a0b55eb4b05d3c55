"""The registry service end to end over NATS request/reply, against a real nats-server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from shared.commands import CommandBus
from shared.envelope import event_subject
from shared.eventstore import EventStore
from shared.settings import Settings
from tests.integration.registry.conftest import Send
from tests.support.keys import stored_key

VOLUNTEER = {
    "full_name": "Lê Thị Hoa",
    "phone": "0987654321",
    "birth_date": "2002-03-04",
    "province_code": "01",
    "commune_code": "00070",
    "affiliation": "student_association",
    "skills": ["digital skills"],
    "consent": True,
}
TEAM = {
    "name": "Đội hình số Hoàn Kiếm",
    "province_code": "01",
    "commune_code": "00070",
    "focus": "digital_skills",
    "organisation": "Đoàn phường Hoàn Kiếm",
}


def person(i: int, **over: Any) -> dict[str, Any]:
    return {**VOLUNTEER, "full_name": f"Tình nguyện viên {i:04d}", "phone": f"09{i:08d}", **over}


async def test_register_volunteer_is_accepted_with_its_version(
    send: Send, registry: CommandBus, store: EventStore, provisioned: Settings
) -> None:
    """A valid registration is recorded; the reply names the volunteer and the log position; the
    event is sealed under a key of its own, already in the key bucket."""
    reply = await send("register_volunteer", {**VOLUNTEER, "command_id": "reg-1"})
    assert reply["accepted"], reply
    subject = event_subject(provisioned.hub, "registry", "volunteer", reply["aggregate_id"])
    [rec] = await store.read(subject)
    assert reply["version"] == rec.seq
    assert rec.envelope.data["phone"] is None  # sealed (services/registry/sealing.py)
    key_id = rec.envelope.data["sealed"]["key_id"]
    assert key_id.startswith("k-")  # a key made ahead (services/registry/keypool.py)
    assert key_id != reply["aggregate_id"]
    kv = await store.jetstream.key_value(provisioned.keys_bucket)
    assert await stored_key(kv, key_id)
    assert "+84987654321" not in subject  # personal data never in subjects


async def test_retried_command_id_records_one_set_of_events(
    send: Send, registry: CommandBus, nc: Any, provisioned: Settings
) -> None:
    """Sending the same command id again returns the first answer and writes nothing."""
    first = await send("register_volunteer", {**VOLUNTEER, "command_id": "reg-2"})
    again = await send("register_volunteer", {**VOLUNTEER, "command_id": "reg-2"})
    assert again["accepted"]
    assert again["duplicate"] is True
    assert again["aggregate_id"] == first["aggregate_id"]
    assert again["version"] == first["version"]
    info = await nc.jetstream().stream_info(provisioned.event_stream)
    assert info.state.messages == 1  # the volunteer, once (one append since issue 14; was claim + volunteer)


async def test_same_phone_in_another_form_is_a_duplicate(send: Send, registry: CommandBus) -> None:
    """+84 and 0 forms of one number are one volunteer: the second is refused, naming the first."""
    first = await send("register_volunteer", {**VOLUNTEER, "command_id": "a"})
    second = await send(
        "register_volunteer",
        {**VOLUNTEER, "phone": "+84 987 654 321", "full_name": "Someone Else", "command_id": "b"},
    )
    assert second == {
        "accepted": False,
        "code": "duplicate_volunteer",
        "reason": second["reason"],
        "details": {"existing_id": first["aggregate_id"]},
    }


async def test_hundred_concurrent_registrations_of_one_phone_make_one_volunteer(
    send: Send,
    start_registry: Callable[[], Awaitable[CommandBus]],
    store: EventStore,
    nc: Any,
    provisioned: Settings,
) -> None:
    """100 concurrent registrations with one phone, over two instances: exactly one volunteer."""
    await start_registry()
    await start_registry()
    replies = await asyncio.gather(
        *(
            send(
                "register_volunteer",
                {**VOLUNTEER, "full_name": f"Người {i}", "command_id": f"c{i}"},
                timeout=30,
            )
            for i in range(100)
        )
    )
    accepted = [r for r in replies if r["accepted"]]
    assert len(accepted) == 1
    assert {r["code"] for r in replies if not r["accepted"]} == {"duplicate_volunteer"}
    js = nc.jetstream()
    volunteers = f"vhub.evt.{provisioned.hub}.registry.volunteer.>"
    info = await js.stream_info(provisioned.event_stream, subjects_filter=volunteers)
    assert len(info.state.subjects or {}) == 1


async def test_possible_duplicate_is_accepted_with_a_warning(send: Send, registry: CommandBus) -> None:
    """Same name and birth date in one province (other phone): accepted, flagged in the reply."""
    first = await send("register_volunteer", {**VOLUNTEER, "command_id": "p1"})
    second = await send(
        "register_volunteer",
        {**VOLUNTEER, "full_name": "le thi  hoa", "phone": "0911111111", "command_id": "p2"},
    )
    assert second["accepted"]
    assert second["warnings"][0]["code"] == "possible_duplicate"
    assert second["warnings"][0]["duplicate_of"] == [first["aggregate_id"]]
    assert [e["event_type"] for e in second["events"]] == [
        "registry.volunteer_registered",
        "registry.possible_duplicate_flagged",
    ]


async def test_concurrent_joins_of_one_volunteer_exactly_one_team_wins(
    send: Send, registry: CommandBus
) -> None:
    """Two writers race on one volunteer: one join wins, the loser re-decides and is refused."""
    vol = (await send("register_volunteer", VOLUNTEER))["aggregate_id"]
    t1 = (await send("form_team", TEAM))["aggregate_id"]
    t2 = (await send("form_team", {**TEAM, "name": "Đội hình hai"}))["aggregate_id"]
    a, b = await asyncio.gather(
        send("add_team_member", {"team_id": t1, "volunteer_id": vol}),
        send("add_team_member", {"team_id": t2, "volunteer_id": vol}),
    )
    assert sorted([a["accepted"], b["accepted"]]) == [False, True]
    loser = a if not a["accepted"] else b
    assert loser["code"] == "already_in_team"


async def test_concurrent_adds_to_one_team_all_land_after_retry(
    send: Send, start_registry: Callable[[], Awaitable[CommandBus]]
) -> None:
    """Two instances write one team aggregate at once: losers reload, re-decide and land."""
    await start_registry()
    await start_registry()
    team = (await send("form_team", TEAM))["aggregate_id"]
    vols = [(await send("register_volunteer", person(i)))["aggregate_id"] for i in range(10)]
    replies = await asyncio.gather(
        *(send("add_team_member", {"team_id": team, "volunteer_id": v}) for v in vols)
    )
    assert all(r["accepted"] for r in replies), replies
    assert sorted(r["version"] for r in replies) == sorted({r["version"] for r in replies})


async def test_team_lifecycle_rules_over_the_wire(send: Send, registry: CommandBus) -> None:
    """Leader must be a member; a disbanded team takes no members and frees its members."""
    vol = (await send("register_volunteer", person(1)))["aggregate_id"]
    other = (await send("register_volunteer", person(2)))["aggregate_id"]
    team = (await send("form_team", TEAM))["aggregate_id"]
    assert (await send("appoint_team_leader", {"team_id": team, "volunteer_id": vol}))["code"] == (
        "leader_not_member"
    )
    assert (await send("add_team_member", {"team_id": team, "volunteer_id": vol}))["accepted"]
    assert (await send("appoint_team_leader", {"team_id": team, "volunteer_id": vol}))["accepted"]
    assert (await send("disband_team", {"team_id": team, "reason": "campaign over"}))["accepted"]
    refused = await send("add_team_member", {"team_id": team, "volunteer_id": other})
    assert refused["code"] == "team_disbanded"
    team2 = (await send("form_team", {**TEAM, "name": "Đội hình mới"}))["aggregate_id"]
    joined = await send("add_team_member", {"team_id": team2, "volunteer_id": vol})
    assert joined["accepted"], joined  # disbanding freed the member


async def test_withdrawn_volunteer_leaves_team_and_cannot_rejoin(send: Send, registry: CommandBus) -> None:
    vol = (await send("register_volunteer", person(3)))["aggregate_id"]
    team = (await send("form_team", TEAM))["aggregate_id"]
    await send("add_team_member", {"team_id": team, "volunteer_id": vol})
    assert (await send("withdraw_volunteer", {"volunteer_id": vol}))["accepted"]
    again = await send("add_team_member", {"team_id": team, "volunteer_id": vol})
    assert again["code"] == "volunteer_withdrawn"
    removed = await send("remove_team_member", {"team_id": team, "volunteer_id": vol})
    assert removed["code"] == "not_a_member"  # the withdrawal took them out of the team


async def test_phone_change_frees_the_old_number(send: Send, registry: CommandBus) -> None:
    vol = (await send("register_volunteer", person(4)))["aggregate_id"]
    changed = await send("update_volunteer", {"volunteer_id": vol, "phone": "0900000999"})
    assert changed["accepted"], changed
    reuse = await send("register_volunteer", person(5, phone=person(4)["phone"]))
    assert reuse["accepted"], reuse
    taken = await send("register_volunteer", person(6, phone="0900000999"))
    assert taken["code"] == "duplicate_volunteer"


async def test_restarted_registry_rebuilds_its_state_from_the_log(
    send: Send, start_registry: Callable[[], Awaitable[CommandBus]]
) -> None:
    """A fresh instance (empty caches) still knows every fact: it reads them from the log."""
    first = await start_registry()
    vol = (await send("register_volunteer", person(7)))["aggregate_id"]
    team = (await send("form_team", TEAM))["aggregate_id"]
    await send("add_team_member", {"team_id": team, "volunteer_id": vol})
    await first.stop()
    await start_registry()
    assert (await send("register_volunteer", person(8, phone=person(7)["phone"])))["code"] == (
        "duplicate_volunteer"
    )
    assert (await send("add_team_member", {"team_id": team, "volunteer_id": vol}))["code"] == (
        "already_member"
    )


async def test_malformed_commands_are_refused_and_service_keeps_serving(
    send: Send, registry: CommandBus
) -> None:
    """Bad JSON, wrong types, unknown fields: invalid_command with a reason; then it still works."""
    bad_json = await send("register_volunteer", b"{not json")
    assert bad_json["code"] == "invalid_command"
    not_object = await send("register_volunteer", b"[1, 2]")
    assert not_object["code"] == "invalid_command"
    wrong = await send(
        "register_volunteer", {**VOLUNTEER, "birth_date": "yesterday", "skills": "x", "extra": 1}
    )
    assert wrong["code"] == "invalid_command"
    fields = {e["field"] for e in wrong["details"]["errors"]}
    assert fields == {"birth_date", "skills"}
    assert wrong["details"]["unknown_fields"] == 1  # counted, not named: a key is input too
    assert "yesterday" not in str(wrong)  # input values are not echoed back
    assert (await send("register_volunteer", VOLUNTEER))["accepted"]


async def test_border_communes_and_service_points(send: Send, registry: CommandBus) -> None:
    reply = await send("designate_border_communes", {"commune_codes": ["70", "00073"]})
    assert reply["result"] == {"border_communes": 2}
    bad = await send("designate_border_communes", {"commune_codes": ["1234567"]})
    assert bad["code"] == "unknown_commune"
    point = await send(
        "register_service_point",
        {
            "name": "Bộ phận một cửa phường Hoàn Kiếm",
            "kind": "commune_one_stop",
            "province_code": "01",
            "commune_code": "70",
        },
    )
    assert point["accepted"]
