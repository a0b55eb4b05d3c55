"""Hostile registry commands (issue 10, defects 3, 4 and 6) against a real registry and nats-server.

Every one gets a typed reply that quotes none of its input and stays far below the server's max
payload, and the registry keeps serving on the same connection afterwards.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from nats.aio.client import Client

from shared.commands import CommandBus
from shared.envelope import event_subject
from shared.eventstore import EventStore
from shared.settings import Settings
from tests.integration.registry.conftest import Send
from tests.integration.registry.test_registry import TEAM, VOLUNTEER

REPLY_BOUND = 64 * 1024  # shared.refusals.MAX_REPLY_BYTES: a sixteenth of the default max_payload


async def raw_reply(nc: Client, name: str, body: bytes) -> bytes:
    reply = await nc.request(f"vhub.cmd.registry.{name}", body, timeout=10)
    return bytes(reply.data)


async def still_serving(send: Send, bus: CommandBus, phone: str) -> None:
    assert bus._nc.is_connected
    reply = await send("register_volunteer", {**VOLUNTEER, "phone": phone})
    assert reply["accepted"], reply


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 10_000, "nests deeper"),
        (b'{"full_name":' * 10_000, "nests deeper"),
        (b'{"a":' + b"1" * 5_000 + b"}", "number"),
        (b'{"consent":NaN}', "NaN"),
        (b"\xff\xfe\x00", "UTF-8"),
        (b"{" + b'"x":1,' * 100_000 + b'"y":2}', "larger than"),
    ],
)
async def test_bodies_the_parser_cannot_take_get_a_typed_refusal(
    nc: Client, send: Send, registry: CommandBus, body: bytes, reason: str
) -> None:
    """Deep nesting, huge numbers, NaN, bad UTF-8, oversize: invalid_command, never silence."""
    data = await raw_reply(nc, "register_volunteer", body)
    reply = json.loads(data)
    assert reply["code"] == "invalid_command"
    assert reason in reply["reason"]
    await still_serving(send, registry, "0987000001")


async def test_unknown_field_names_are_counted_not_echoed(
    nc: Client, send: Send, registry: CommandBus
) -> None:
    """A 600 KB unknown key once made a 1.2 MB refusal (connection closed); many unknown keys neither."""
    huge_key = {**VOLUNTEER, "k" * 600_000: 1}
    data = await raw_reply(nc, "register_volunteer", json.dumps(huge_key).encode())
    assert json.loads(data)["code"] == "invalid_command"
    assert len(data) < 1_000
    assert b"kkkk" not in data
    many: dict[str, Any] = {**VOLUNTEER, **{f"secret{n:03d}" + "z" * 2_000: n for n in range(100)}}
    data = await raw_reply(nc, "register_volunteer", json.dumps(many).encode())
    reply = json.loads(data)
    assert reply["code"] == "invalid_command"
    assert reply["details"]["unknown_fields"] == 100
    assert b"secret" not in data
    assert b"zzzz" not in data
    assert len(data) < 2_000
    await still_serving(send, registry, "0987000002")


async def test_unknown_communes_are_not_echoed(nc: Client, send: Send, registry: CommandBus) -> None:
    """50 long bogus codes once came back verbatim (a 1,000,353-byte reply); now the reply is bounded."""
    long_codes = {"commune_codes": ["9" * 4_000 + str(n) for n in range(50)]}
    data = await raw_reply(nc, "designate_border_communes", json.dumps(long_codes).encode())
    assert json.loads(data)["code"] == "invalid_command"
    assert len(data) < 4_000
    assert b"99999999" not in data
    short_codes = {"commune_codes": ["70", *(f"x{n:05d}" for n in range(60))]}
    data = await raw_reply(nc, "designate_border_communes", json.dumps(short_codes).encode())
    reply = json.loads(data)
    assert reply["code"] == "unknown_commune"
    assert reply["details"]["unknown"] == 60
    assert b"x00001" not in data
    assert len(data) < REPLY_BOUND
    await still_serving(send, registry, "0987000003")


@pytest.mark.parametrize(
    ("command", "body"),
    [
        ("form_team", {**TEAM, "organisation": "Đoàn \u202etrường"}),  # right-to-left override
        ("form_team", {**TEAM, "name": "Đội\u200b số"}),  # zero-width space
        ("form_team", {**TEAM, "name": "Đội \ue000"}),  # private use
        ("register_volunteer", {**VOLUNTEER, "actor": "ops\x00"}),  # NUL
        ("register_volunteer", {**VOLUNTEER, "birth_date": 1_000_000}),  # a number as a date
        ("register_volunteer", {**VOLUNTEER, "birth_date": "0069-01-01"}),
        ("designate_border_communes", {"commune_codes": ["70"], "effective_from": "9999-12-31"}),
        ("withdraw_volunteer", {"volunteer_id": "v1", "reason": "left\u2066 early"}),  # bidi isolate
    ],
)
async def test_invisible_characters_and_odd_dates_are_invalid(
    send: Send, registry: CommandBus, command: str, body: dict[str, Any]
) -> None:
    """Control, bidi, zero-width and private-use characters and out-of-range dates never reach events."""
    reply = await send(command, body)
    assert reply["code"] == "invalid_command", reply


async def test_vietnamese_text_is_kept_and_normalised(
    send: Send, registry: CommandBus, store: EventStore, provisioned: Settings
) -> None:
    """Decomposed Vietnamese (NFD) is accepted and stored composed (NFC)."""
    reply = await send("form_team", {**TEAM, "organisation": "Đoàn Thanh nie\u0302n"})
    assert reply["accepted"], reply
    [rec] = await store.read(event_subject(provisioned.hub, "registry", "team", reply["aggregate_id"]))
    assert rec.envelope.data["organisation"] == "Đoàn Thanh niên"


PHONE_FORMS = [
    "0977123450",
    "\u0660\u0669\u0667\u0667\u0661\u0662\u0663\u0664\u0665\u0660",  # Arabic-Indic
    "\uff10\uff19\uff17\uff17\uff11\uff12\uff13\uff14\uff15\uff10",  # full-width
    "+84\u096f\u096d\u096d\u0967\u0968\u0969\u096a\u096b\u0966",  # +84, Devanagari
]


async def test_one_number_in_four_scripts_registers_one_volunteer(
    send: Send, registry: CommandBus, store: EventStore, provisioned: Settings
) -> None:
    """One phone number is one uniqueness key whatever digits it is typed in; the stored form is E.164."""
    replies = [
        await send("register_volunteer", {**VOLUNTEER, "full_name": f"Người số {n}", "phone": phone})
        for n, phone in enumerate(PHONE_FORMS)
    ]
    assert [r.get("code", "accepted") for r in replies] == ["accepted"] + ["duplicate_volunteer"] * 3
    subject = event_subject(provisioned.hub, "registry", "volunteer", replies[0]["aggregate_id"])
    [rec] = await store.read(subject)
    assert rec.envelope.data["phone"] is None  # sealed in the log; the registry opens it
    exported = await send("export_volunteer", {"volunteer_id": replies[0]["aggregate_id"]})
    assert exported["result"]["personal_data"]["phone"] == "+84977123450"
