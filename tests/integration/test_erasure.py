"""Erasure by key deletion (issue 12) on a real nats-server, SQLite read model and real services:
the figures survive a restart and a rebuild from sequence 1, and no byte of any stream (the hub's,
the central copy, the key bucket, the DLQ) or of the read-model database holds the erased person's
name, phone or birth date in any of their written forms."""

from __future__ import annotations

import json
import unicodedata
from contextlib import AsyncExitStack
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from services.registry.app import RegistryApp
from services.registry.keybundles import locate
from services.reporting.app import ReportingApp
from services.reporting.db import make_engine
from services.reporting.rebuild import rebuild
from services.reporting.store import ReportingStore
from shared.envelope import Envelope, event_subject
from shared.hosting import hosted
from shared.settings import Settings, load_settings
from shared.streams import central_stream_config, ensure_stream
from tests.integration.reporting.observe import observed_view
from tests.support.keys import stored_key
from tests.support.waiting import eventually

ERASED: dict[str, Any] = {
    "full_name": "Nguyễn Thị Ánh Tuyết",
    "phone": "0912 345 678",
    "birth_date": "2001-09-17",
    "province_code": "01",
    "commune_code": "00070",
    "affiliation": "youth_union",
    "skills": ["digital skills"],
    "consent": True,
}
KEPT = {**ERASED, "full_name": "Trần Văn Bình", "phone": "0987000111", "birth_date": "1999-01-02"}
TEAM = {
    "name": "Đội hình Hoàn Kiếm",
    "province_code": "01",
    "commune_code": "00070",
    "focus": "digital_skills",
    "organisation": "Đoàn phường",
}


def traces() -> list[bytes]:
    """Every written form of the erased person's data: NFC and NFD names (and the name without
    diacritics, as the duplicate index folds it), the phone local, E.164 and bare, the birth date."""
    name = str(ERASED["full_name"])
    folded = "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c))
    forms = [unicodedata.normalize("NFC", name), unicodedata.normalize("NFD", name), folded]
    forms += [name.split()[-1] + " " + name.split()[0]]
    forms += ["0912345678", "+84912345678", "84912345678", "912345678", "2001-09-17", "17/09/2001"]
    out = [f.encode() for f in forms]
    return out + [json.dumps(f).encode() for f in forms]  # JSON escapes too (\u1ec5 ...)


async def dump_streams(nc: Client) -> bytes:
    """Subject, headers and payload of every message of every stream of the account."""
    js = nc.jetstream()
    out = bytearray()
    for info in await js.streams_info():
        name = info.config.name
        assert name is not None
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                msg = await js.get_msg(name, seq)
            except Exception:  # noqa: S112  # a purged or deleted sequence: nothing left to read
                continue
            out += (msg.subject or "").encode() + repr(msg.headers).encode() + (msg.data or b"")
    return bytes(out)


@pytest.fixture
async def hub(provisioned: Settings, tmp_path: Path, nc: Client) -> Settings:
    """The hub's settings on a SQLite read model, with a central stream sourcing it (as central's)."""
    central = central_stream_config(provisioned, [provisioned.hub], "VHUB_CENTRAL_T", provisioned.hub)
    await ensure_stream(nc.jetstream(), central)
    url = f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    return load_settings(**{**provisioned.model_dump(), "database_url": url, "http_port": 0})


async def ask(nc: Client, name: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await nc.request(f"vhub.cmd.registry.{name}", json.dumps(body).encode(), timeout=15)
    answer: dict[str, Any] = json.loads(reply.data)
    return answer


async def figures(nc: Client, reporting: ReportingApp, settings: Settings) -> dict[str, Any]:
    last = (await nc.jetstream().stream_info(settings.event_stream)).state.last_seq

    async def caught_up() -> bool:
        return (await reporting.store.position()).position >= last

    await eventually(caught_up, "reporting caught up", 60)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{reporting.server.port}", timeout=10) as http:
        return await observed_view(http, ["01"], [date.today()])


async def key_of(nc: Client, hub: Settings, volunteer_id: str) -> str:
    """The data key the volunteer's registration names (a key made ahead: services/registry/keypool.py)."""
    subject = event_subject(hub.hub, "registry", "volunteer", volunteer_id)
    msg = await nc.jetstream().get_msg(hub.event_stream, seq=1, subject=subject, next=True)
    return str(Envelope.from_bytes(msg.data or b"").data["sealed"]["key_id"])


async def test_erased_person_leaves_no_trace_and_figures_stay(
    nc: Client, hub: Settings, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Given two volunteers (one in a team) and the reporting projection, when one is erased, then
    the registry reads no personal field of theirs, the phone registers again, the figures after a
    restart of every service and a rebuild from sequence 1 equal those served right after the
    erasure (registrations of the past unchanged, the erased one counted as withdrawn), and no
    stream or read-model byte, reporting answer or log line holds their name, phone or birth date."""
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(hosted(hub, "registry", RegistryApp))
        reporting = await stack.enter_async_context(hosted(hub, "reporting", ReportingApp))
        gone = (await ask(nc, "register_volunteer", ERASED))["aggregate_id"]
        kept = (await ask(nc, "register_volunteer", KEPT))["aggregate_id"]
        team = (await ask(nc, "form_team", TEAM))["aggregate_id"]
        for vol in (gone, kept):
            assert (await ask(nc, "add_team_member", {"team_id": team, "volunteer_id": vol}))["accepted"]
        before = await figures(nc, reporting, hub)
        assert before["summary"]["figures"]["active_volunteers"] == 2

        erased = await ask(nc, "erase_volunteer", {"volunteer_id": gone, "reason": "subject_request"})
        assert erased["accepted"], erased
        again = await ask(nc, "erase_volunteer", {"volunteer_id": gone, "reason": "subject_request"})
        assert again["accepted"], again
        assert not again["events"], again
        after = await figures(nc, reporting, hub)
    # the erased volunteer counts as withdrawn (figures are not personal data); nothing else moved
    assert after["summary"]["figures"]["active_volunteers"] == 1
    assert after["teams"][team]["members"] == before["teams"][team]["members"] - 1
    assert after["summary"]["volunteers_by_affiliation"] == {"youth_union": 1}

    # restart every service, rebuild reporting from sequence 1
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(hosted(hub, "registry", RegistryApp))
        reporting = await stack.enter_async_context(hosted(hub, "reporting", ReportingApp))
        engine = make_engine(hub.database_url, writer=True)
        try:
            await rebuild(nc.jetstream(), ReportingStore(engine), stream=hub.read_stream)
        finally:
            await engine.dispose()
        assert await figures(nc, reporting, hub) == after

        export = await ask(nc, "export_volunteer", {"volunteer_id": gone})
        assert export["result"]["erased"] is True
        assert set(export["result"]["personal_data"].values()) == {None}
        assert not any(t.decode() in json.dumps(export) for t in traces()[:9])
        reborn = await ask(nc, "register_volunteer", {**ERASED, "full_name": "Người khác"})
        assert reborn["accepted"], reborn  # the number is free again
        refused = await ask(nc, "register_volunteer", KEPT)
        assert refused["code"] == "duplicate_volunteer"  # ... and the kept one's is not

    kv = await nc.jetstream().key_value(hub.keys_bucket)
    gone_key, kept_key = [await key_of(nc, hub, v) for v in (gone, kept)]
    assert await stored_key(kv, gone_key) is None
    assert await stored_key(kv, kept_key)
    raw = await dump_streams(nc)
    db = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("reporting.db*")))  # noqa: ASYNC240  # a test's own files, read once
    # the dump saw the hub's log, its central copy and the key bucket's message that held the key
    # (a purge marker, or its bundle rewritten without it: services/registry/keybundles.py)
    assert raw.count(b"registry.volunteer_erased") >= 4  # subject header + envelope, twice
    assert b"Nats-Stream-Source" in raw
    assert f"$KV.{hub.keys_bucket}.{locate(gone_key)[0]}".encode() in raw
    assert db
    answers = json.dumps(after, ensure_ascii=False).encode() + json.dumps(before).encode()
    out, err = capfd.readouterr()  # every log line of the services run in this process
    assert "volunteer_erased" in out + err
    for trace in traces():
        assert trace not in raw, trace
        assert trace not in db, trace
        assert trace not in answers, trace
        assert trace.decode() not in out + err, trace
