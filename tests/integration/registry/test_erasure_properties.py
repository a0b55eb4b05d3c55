"""Property (issue 12): for any sequence of registry commands with erasures among them, on a real
nats-server and key bucket, the fold of the log read afterwards (a fresh registry, no caches)
equals the fold of the same events opened with every key that ever existed and the erased
volunteers' personal fields removed; no event of an erased volunteer opens to a personal value;
and every reporting figure computed from the log as reporting reads it (sealed, no key) equals
the one computed from the plaintext events."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import nats
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client

from services.registry.domain import volunteer
from services.registry.domain.commands import (
    AddTeamMember,
    EraseVolunteer,
    FormTeam,
    RegisterVolunteer,
    UpdateVolunteer,
    WithdrawVolunteer,
)
from services.registry.erasures import scan
from services.registry.keystore import KeyStore
from services.registry.privacy import Privacy
from services.registry.service import Registry
from services.reporting.projections import Loaded, fold
from shared.aggregates import CommandContext
from shared.decider import Rejected
from shared.decider import fold as fold_events
from shared.envelope import Envelope
from shared.events import Event
from shared.events.registry import PERSONAL_FIELDS
from shared.eventstore import EventStore
from shared.ownership import owned_id
from shared.settings import Settings, load_settings
from shared.streams import provision
from shared.upcast import decode

T = TypeVar("T")
PEOPLE = 4
OPS = st.lists(
    st.tuples(
        st.sampled_from(["register", "rename", "rephone", "join", "withdraw", "erase"]),
        st.integers(0, PEOPLE - 1),
    ),
    min_size=1,
    max_size=14,
)
RUN = itertools.count()


class Loop:
    """An event loop on its own thread, so hypothesis (synchronous) can drive a NATS client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def hub(nats_url: str) -> Iterator[tuple[Loop, Client, Settings]]:
    loop = Loop()
    settings = load_settings(env="test", hub="erasefuzz", nats_url=nats_url)
    nc = loop.run(nats.connect(nats_url, name="vhub-erasure-fuzz"))
    loop.run(provision(nc.jetstream(), settings))
    try:
        yield loop, nc, settings
    finally:
        loop.run(nc.close())
        loop.close()


class Remembered(KeyStore):
    """The oracle's key store: every key the registry ever created, never deleted."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self._all = keys

    async def get(self, key_id: str) -> bytes | None:
        return self._all.get(key_id)


def figures(events: list[Event]) -> Any:
    c = fold(events, Loaded())
    return (c.figures, c.daily, c.focus, c.affiliation)


async def scenario(nc: Client, settings: Settings, ops: list[tuple[str, int]], run: int) -> None:
    store = EventStore(nc, stream=settings.event_stream, hub=settings.hub)
    start = (await nc.jetstream().stream_info(settings.event_stream)).state.last_seq
    registry = Registry(store, settings)
    privacy = Privacy(registry)
    at = datetime(2025, 7, 3, 8, tzinfo=UTC)
    n = itertools.count()

    def ctx() -> CommandContext:
        i = next(n)
        return CommandContext(f"r{run}c{i}", f"r{run}", "fuzz", at + timedelta(seconds=i))

    registered: dict[int, str] = {}  # person -> the id their registration got (a phone slot)

    def vid(p: int) -> str:
        return registered.get(p) or owned_id(settings.hub, "volunteer", f"r{run}reg{p}")

    team = (
        await registry.form_team(
            FormTeam(name="Đội", province_code="01", focus="digital_skills", organisation="Đoàn"), ctx()
        )
    ).aggregate_id
    created: dict[str, bytes] = {}
    for op, p in ops:
        phone = f"09{run % 1000:03d}{p:02d}{next(n) % 1000:03d}"
        try:
            if op == "register":
                c = CommandContext(f"r{run}reg{p}", f"r{run}", "fuzz", at)
                body = {
                    "full_name": f"Nguyễn Văn Ánh {p}",
                    "phone": f"08{run % 100000:05d}{p:03d}",
                    "birth_date": "2001-02-03",
                }
                accepted = await registry.register_volunteer(
                    RegisterVolunteer(
                        **body, province_code="01", commune_code="00070", affiliation="other", consent=True
                    ),
                    c,
                )
                registered[p] = accepted.aggregate_id
                key_id = (await registry.volunteers.load(vid(p))).state.key_id or vid(p)
                created[key_id] = registry.keys.cached(key_id) or created.get(key_id, b"")
            elif op == "rename":
                await registry.update_volunteer(
                    UpdateVolunteer(volunteer_id=vid(p), full_name=f"Trần Thị {p} {next(n)}"), ctx()
                )
            elif op == "rephone":
                await registry.update_volunteer(UpdateVolunteer(volunteer_id=vid(p), phone=phone), ctx())
            elif op == "join":
                await registry.add_team_member(AddTeamMember(team_id=team, volunteer_id=vid(p)), ctx())
            elif op == "withdraw":
                await registry.withdraw_volunteer(WithdrawVolunteer(volunteer_id=vid(p)), ctx())
            else:
                await privacy.erase_volunteer(
                    EraseVolunteer(volunteer_id=vid(p), reason="subject_request"), ctx()
                )
        except Rejected:
            pass

    fresh = Registry(store, settings)  # no caches: every event read from the log now
    oracle = Registry(store, settings, keys=Remembered(created))
    records = [m async for m in scan(nc.jetstream(), settings.event_stream, after=start)]
    envelopes = [Envelope.from_bytes(m.data or b"") for m in records]
    for v in {env.aggregate_id for env in envelopes if env.event_type.startswith("registry.volunteer")}:
        mine = [env for env in envelopes if env.aggregate_id == v]
        opened = [await oracle.codec.open(env) for env in mine]
        erased = any(env.event_type == "registry.volunteer_erased" for env in mine)
        if erased:
            opened = [
                e.model_copy(update=dict.fromkeys(f for f in PERSONAL_FIELDS if f in type(e).model_fields))
                for e in opened
            ]
            for env in mine:
                read = await fresh.codec.open(env)
                assert all(getattr(read, f, None) is None for f in PERSONAL_FIELDS), read
        expected = fold_events(volunteer.evolve, volunteer.initial(), opened)
        assert (await fresh.volunteers.load(v)).state == expected
    types = {env.event_type for env in envelopes}
    if any(op == "register" for op, _ in ops):  # the scenario really registers (the property is not empty)
        assert "registry.volunteer_registered" in types
    if len(ops) > 1 and ops[0][0] == "register" and ops[1] == ("erase", ops[0][1]):
        assert "registry.volunteer_erased" in types
    plaintext = [await oracle.codec.open(env) for env in envelopes]
    assert figures([decode(env) for env in envelopes]) == figures(plaintext)


@pytest.mark.property
@given(OPS)
def test_erasure_keeps_the_fold_and_every_figure(
    hub: tuple[Loop, Client, Settings], ops: list[tuple[str, int]]
) -> None:
    loop, nc, settings = hub
    loop.run(scenario(nc, settings, ops, next(RUN)))
