"""The operator's privacy tools on a real nats-server: migrating a plaintext log into a sealed copy,
the erasure report, ``vhub erase`` and ``vhub export`` as processes, minors' guardian consent."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.aio.client import Client

from services.registry.app import RegistryApp
from services.registry.domain.commands import EraseVolunteer, ExportVolunteer, RegisterVolunteer
from services.registry.erasures import erasure_report
from services.registry.keybundles import locate
from services.registry.keystore import KeyStore, MasterKey
from services.registry.migrate import migrate
from services.registry.sealing import PersonalCodec, keyed
from services.registry.service import Registry
from shared.aggregates import CommandContext
from shared.commands import CommandBus
from shared.envelope import Envelope, event_subject
from shared.eventstore import EventStore
from shared.settings import Settings
from tests.integration.registry.conftest import Send
from tests.integration.registry.test_registry import TEAM, VOLUNTEER
from tests.support.keys import stored_key
from tests.support.waiting import eventually

T0 = datetime(2025, 7, 2, 8, 0, tzinfo=UTC)
PLAIN_A = {"full_name": "Phạm Văn Long", "phone": "+84911000001", "birth_date": "2000-05-06"}
PLAIN_B = {"full_name": "Đỗ Thị Mai", "phone": "+84911000002", "birth_date": "1998-12-30"}


def old(hub: str, vid: str, n: int, event_type: str, version: int, data: dict[str, Any]) -> Envelope:
    """An event as a registry before sealing wrote it (plaintext personal fields)."""
    return Envelope(
        event_id=f"old-{vid}-{n}",
        event_type=event_type,
        schema_version=version,
        aggregate_id=vid,
        hub=hub,
        occurred_at=T0,
        recorded_at=T0,
        command_id=f"cmd-{vid}-{n}",
        correlation_id=f"cmd-{vid}-{n}",
        data={"volunteer_id": vid, **data},
    )


def registered(hub: str, vid: str, personal: dict[str, str]) -> Envelope:
    place = {"province_code": "01", "commune_code": "00070", "affiliation": "other", "skills": []}
    return old(hub, vid, 0, "registry.volunteer_registered", 2, {**personal, **place})


async def test_migration_seals_a_plaintext_log_into_a_copy_of_the_same_shape(
    store: EventStore, provisioned: Settings, nc: Client
) -> None:
    """Given a log written before sealing (two registrations, a name change, one erasure), when it
    is migrated, then the copy has the same subjects and sequences, no plaintext personal value,
    the kept volunteer folds to the same state through their new key, and the erased one to none;
    the erasure report lists the erasure, its key gone."""
    hub = provisioned.hub

    def subject(vid: str) -> str:
        return event_subject(hub, "registry", "volunteer", vid)

    await store.append(subject("a"), [registered(hub, "a", PLAIN_A)], 0)
    await store.append(subject("b"), [registered(hub, "b", PLAIN_B)], 0)
    rename = old(hub, "a", 1, "registry.volunteer_updated", 1, {"full_name": "Phạm Văn Long Hải"})
    await store.append(subject("a"), [rename], 1)
    erased = old(hub, "b", 1, "registry.volunteer_erased", 1, {"reason": "legal_order", "key_id": None})
    await store.append(subject("b"), [erased], 2)
    keys = KeyStore(nc.jetstream(), provisioned.keys_bucket, MasterKey(provisioned.master_key()))
    codec = PersonalCodec(keys, keyed(provisioned.pii_key.get_secret_value().encode()))

    done = await migrate(nc.jetstream(), codec, hub=hub, source=provisioned.event_stream, target="SEALED_T")

    assert (done.copied, done.sealed, done.stripped, done.last_seq) == (4, 2, 1, 4)
    js = nc.jetstream()
    for seq in range(1, 5):
        before, after = await js.get_msg(provisioned.event_stream, seq), await js.get_msg("SEALED_T", seq)
        assert after.subject == before.subject
        for value in [*PLAIN_A.values(), *PLAIN_B.values(), "Phạm Văn Long Hải"]:
            assert value.encode() not in (after.data or b""), value
            assert json.dumps(value).encode() not in (after.data or b""), value
    copy = Registry(EventStore(nc, stream="SEALED_T", hub=hub), provisioned, keys=keys)
    a, b = (await copy.volunteers.load("a")).state, (await copy.volunteers.load("b")).state
    assert (a.full_name, a.phone, str(a.birth_date)) == ("Phạm Văn Long Hải", *list(PLAIN_A.values())[1:])
    assert (b.full_name, b.phone, b.birth_date, b.erased) == (None, None, None, True)
    [report] = await erasure_report(js, provisioned.event_stream, hub, keys)
    assert (report.volunteer_id, report.reason, report.key_deleted) == ("b", "legal_order", True)


def vhub(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    where = ["--nats-url", settings.nats_url, "--hub", settings.hub]
    return subprocess.run(
        [sys.executable, "-m", "vhub.cli", *args, *where], capture_output=True, text=True, timeout=60
    )


async def test_vhub_erase_export_and_the_report_as_an_operator_runs_them(
    send: Send, registry: CommandBus, provisioned: Settings
) -> None:
    """`vhub export` prints the volunteer's data; `vhub erase` erases them (a second time says so);
    `vhub pii erasures --json` lists the erasure without any personal value; an unknown volunteer
    is refused with exit status 1."""
    vid = (await send("register_volunteer", VOLUNTEER))["aggregate_id"]
    export = await asyncio.to_thread(vhub, provisioned, "export", vid)
    assert json.loads(export.stdout)["personal_data"]["full_name"] == VOLUNTEER["full_name"], export.stderr
    first = await asyncio.to_thread(vhub, provisioned, "erase", vid, "--reason", "consent_withdrawn")
    assert first.returncode == 0, first.stderr
    assert f"erased {vid}" in first.stdout
    second = await asyncio.to_thread(vhub, provisioned, "erase", vid, "--reason", "consent_withdrawn")
    assert "already erased" in second.stdout, second.stdout
    report = await asyncio.to_thread(vhub, provisioned, "pii", "erasures", "--json")
    [row] = [json.loads(line) for line in report.stdout.splitlines()]
    assert (row["volunteer_id"], row["reason"], row["key_deleted"]) == (vid, "consent_withdrawn", True)
    for value in (str(VOLUNTEER["full_name"]), "987654321", str(VOLUNTEER["birth_date"])):
        assert value not in report.stdout
    unknown = await asyncio.to_thread(vhub, provisioned, "erase", "nobody", "--reason", "legal_order")
    assert unknown.returncode == 1
    assert "unknown_volunteer" in unknown.stdout


async def test_a_minor_needs_a_guardians_consent(send: Send, registry: CommandBus) -> None:
    """Under 16 on the registration date: refused without guardian_consent, accepted with it (and
    recorded); 16 and over needs none."""
    today = datetime.now(UTC).date()
    fifteen = today.replace(year=today.year - 15).isoformat()
    seventeen = today.replace(year=today.year - 17).isoformat()
    child = {**VOLUNTEER, "birth_date": fifteen, "phone": "0911222333"}
    refused = await send("register_volunteer", child)
    assert refused["code"] == "guardian_consent_required", refused
    assert (await send("register_volunteer", {**child, "guardian_consent": True}))["accepted"]
    adult = {**VOLUNTEER, "birth_date": seventeen, "phone": "0911222444"}
    assert (await send("register_volunteer", adult))["accepted"]


def shift(hub: str, team: str, n: int, starts: datetime, kind: str = "team_dispatched") -> Envelope:
    """A fact on the team's schedule, as dispatch records it."""
    where = {
        "service_point_id": "sp1",
        "province_code": "01",
        "commune_code": "00070",
        "date": str(starts.date()),
    }
    data: dict[str, Any] = {**where, "dispatch_id": f"d{n}", "team_id": team}
    if kind == "team_dispatched":
        data |= {"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=4)).isoformat()}
        data |= {"focus": "digital_skills"}
    else:
        data |= {"at": starts.isoformat()}
    return Envelope(
        event_id=f"shift-{n}-{kind}",
        event_type=f"dispatch.{kind}",
        schema_version=1,
        aggregate_id=team,
        hub=hub,
        occurred_at=starts,
        recorded_at=starts,
        command_id=f"shift-{n}-{kind}",
        correlation_id=f"shift-{n}",
        data=data,
    )


async def test_the_export_holds_the_shifts_of_the_volunteers_teams_while_a_member(
    send: Send, registry: CommandBus, store: EventStore, provisioned: Settings
) -> None:
    """`export_volunteer` lists the team membership and the team's shifts that started while the
    volunteer was in it (with what became of each), not one that started before they joined."""
    vid = (await send("register_volunteer", {**VOLUNTEER, "phone": "0911555666"}))["aggregate_id"]
    team = (await send("form_team", TEAM))["aggregate_id"]
    joined = datetime.now(UTC)
    assert (await send("add_team_member", {"team_id": team, "volunteer_id": vid}))["accepted"]
    subject = event_subject(provisioned.hub, "dispatch", "schedule", team)
    before, during = joined - timedelta(days=1), joined + timedelta(days=1)
    last = 0
    for env in (shift(provisioned.hub, team, 1, before), shift(provisioned.hub, team, 2, during)):
        last = (await store.append(subject, [env], last)).last_seq
    checked_in = shift(provisioned.hub, team, 2, during, "team_checked_in")
    await store.append(subject, [checked_in], last)

    result = (await send("export_volunteer", {"volunteer_id": vid}))["result"]

    assert [t["team_id"] for t in result["teams"]] == [team]
    assert result["teams"][0]["left_at"] is None
    [only] = result["shifts"]
    assert (only["dispatch_id"], only["service_point_id"]) == ("d2", "sp1")
    assert [e["event_type"] for e in only["events"]] == [
        "dispatch.team_dispatched",
        "dispatch.team_checked_in",
    ]
    assert result["personal_data"]["phone"] == "+84911555666"


async def test_an_erasure_at_one_replica_reaches_the_others_and_a_restart(
    nc: Client, provisioned: Settings
) -> None:
    """Given two registry replicas, the second holding the volunteer (and their key) in its caches,
    when the first erases them, then the second's feed drops the key and the duplicate index entry,
    and an export at the second (or at a replica started afterwards) shows no personal field."""

    def replica(slot: str) -> RegistryApp:  # each replica's feed is its own consumer, named by slot
        return RegistryApp(nc, provisioned.model_copy(update={"instance": slot}), catch_up_s=30)

    replicas = [replica("1"), replica("2")]
    for app in replicas:
        await app.start()
    late: RegistryApp | None = None
    try:
        a, b = replicas
        now = datetime.now(UTC)

        def ctx(cid: str) -> CommandContext:
            return CommandContext(command_id=cid, correlation_id=cid, actor="test", received_at=now)

        body = {**VOLUNTEER, "phone": "0911777888"}
        vid = (await a.registry.register_volunteer(RegisterVolunteer(**body), ctx("x-reg"))).aggregate_id
        seen = await b.privacy.export_volunteer(ExportVolunteer(volunteer_id=vid), ctx("x-exp"))
        assert seen.result is not None
        assert seen.result["personal_data"]["full_name"] == VOLUNTEER["full_name"]
        key_id = (await b.registry.volunteers.load(vid)).state.key_id
        assert key_id is not None
        assert b.registry.keys.cached(key_id) is not None

        await a.privacy.erase_volunteer(
            EraseVolunteer(volunteer_id=vid, reason="consent_withdrawn"), ctx("x-er")
        )

        async def forgotten() -> bool:
            return b.registry.keys.cached(key_id) is None

        await eventually(forgotten, "the other replica dropped the key", 30)
        key = b.registry.identities.key_of(str(VOLUNTEER["full_name"]), str(VOLUNTEER["birth_date"]), "01")
        assert vid not in b.registry.identities.holders(key)
        late = replica("3")
        await late.start()
        for app in (b, late):
            out = await app.privacy.export_volunteer(ExportVolunteer(volunteer_id=vid), ctx("x-exp2"))
            assert out.result is not None
            assert out.result["erased"] is True
            assert set(out.result["personal_data"].values()) == {None}
            assert str(VOLUNTEER["full_name"]) not in json.dumps(out.result, ensure_ascii=False)
    finally:
        for app in [*replicas, *([late] if late else [])]:
            await app.stop()


async def test_a_key_brought_back_by_a_restored_backup_is_deleted_again_at_start(
    nc: Client, provisioned: Settings
) -> None:
    """Given an erased volunteer whose wrapped key a bucket backup older than the erasure still
    holds, when that backup is restored and a registry starts, then its feed deletes the key again
    and the volunteer stays unreadable."""
    js = nc.jetstream()
    kv = await js.key_value(provisioned.keys_bucket)
    first = RegistryApp(nc, provisioned.model_copy(update={"instance": "1"}), catch_up_s=30)
    await first.start()
    try:
        now = datetime.now(UTC)
        ctx = CommandContext(command_id="bk-reg", correlation_id="bk", actor="test", received_at=now)
        body = {**VOLUNTEER, "phone": "0911999000"}
        vid = (await first.registry.register_volunteer(RegisterVolunteer(**body), ctx)).aggregate_id
        key_id = (await first.registry.volunteers.load(vid)).state.key_id
        assert key_id is not None
        kv_key = locate(key_id)[0]  # its message: a bundle (services/registry/keybundles.py)
        backup = (await kv.get(kv_key)).value  # what a backup taken now holds
        assert backup
        erase = EraseVolunteer(volunteer_id=vid, reason="legal_order")
        await first.privacy.erase_volunteer(erase, CommandContext("bk-er", "bk", "test", now))
    finally:
        await first.stop()
    await kv.put(kv_key, backup)  # the restore
    restarted = RegistryApp(nc, provisioned.model_copy(update={"instance": "2"}), catch_up_s=30)
    await restarted.start()  # its feed catches up with the log before it serves
    try:
        assert await stored_key(kv, key_id) is None
        state = (await restarted.registry.volunteers.load(vid)).state
        assert (state.full_name, state.phone, state.birth_date) == (None, None, None)
    finally:
        await restarted.stop()
