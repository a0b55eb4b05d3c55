"""Property tests (hypothesis) for the ingest subjects, against a real nats-server and the real
dispatch service (its composition root, in a loop of its own): arbitrary bytes, invalid UTF-8, deep
and wide JSON, huge strings and numbers, unknown fields, wrong types, odd headers and unknown fact
types, with valid facts interleaved.

Properties, per stored message: it is recorded (an ``ActivityReported`` with its id in the log) or
dead-lettered with a reason and a code, never both, never neither (the two counts add up to what
was stored); every valid fact is recorded; dispatch keeps its NATS link (no loss, no reconnect)
and its consumers, and still answers commands. Hostile facts name a dispatch that already has its
report, or none, so none of them can be recorded. The profile (tests/conftest.py) sets the size:
``make test`` runs the default, ``make fuzz`` the large one (>= 10,000 messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client
from nats.aio.msg import Msg

from services.dispatch.app import DispatchApp
from services.dispatch.clock import ManualClock
from shared.envelope import (
    H_DLQ_CODE,
    H_DLQ_REASON,
    H_DLQ_STREAM_SEQ,
    H_EVENT_TYPE,
    Envelope,
    command_subject,
    dlq_subject,
    ingest_subject,
)
from shared.eventstore import EventStore
from shared.hosting import hosted
from shared.runtime import link_of
from shared.settings import Settings, load_settings
from shared.streams import provision
from tests.integration.dispatch.conftest import NOW, Registry

pytestmark = pytest.mark.property
T = TypeVar("T")
HUB = "fz" + uuid.uuid4().hex[:8]
MAX_SEND = 900_000  # below the default max_payload (with headers): the sender must not be cut off
SETTLE_S = 30.0  # every stored message accounted for within this, on a loaded 2-core machine
STARTS, ENDS, AT = "2025-07-10T08:00:00+07:00", "2025-07-10T12:00:00+07:00", "2025-07-10T08:00:00+07:00"
TALLY: Counter[str] = Counter()


class Loop:
    """An event loop on its own thread, so hypothesis (synchronous) can drive async clients."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 180.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class Rig:
    """dispatch, a client, and what the log and the DLQ have said so far."""

    loop: Loop
    app: DispatchApp
    nc: Client
    settings: Settings
    registry: Registry
    spent: str = ""  # a dispatch that has its report: no further fact on it can be recorded
    recorded: set[str] = field(default_factory=set)  # command ids of ActivityReported
    letters: dict[int, dict[str, str]] = field(default_factory=dict)  # ingest seq -> DLQ headers
    teams: int = 0

    async def ask(self, name: str, **body: Any) -> dict[str, Any]:
        reply = await self.nc.request(
            command_subject("dispatch", name), json.dumps(body).encode(), timeout=15
        )
        out: dict[str, Any] = json.loads(reply.data)
        return out

    async def checked_in(self) -> str:
        """A fresh team's dispatch, checked in: one valid report can be recorded on it."""
        self.teams += 1
        team = f"fz{self.teams}"
        seq = await self.registry.team(team)
        assert await self.app.projection.wait_for(seq, within=15)
        reply = await self.ask(
            "dispatch_team", team_id=team, service_point_id="p1", starts_at=STARTS, ends_at=ENDS
        )
        did: str = reply["result"]["dispatch_id"]
        assert (await self.ask("check_in", dispatch_id=did, at=AT))["accepted"]
        return did

    async def watch(self) -> None:
        """Follow the log's ActivityReported and the ingest DLQ into ``recorded`` and ``letters``."""
        js = self.nc.jetstream()
        reports = await js.subscribe(
            f"vhub.evt.{HUB}.dispatch.schedule.*",
            stream=self.settings.event_stream,
            ordered_consumer=True,
            cb=self._on_event,
        )
        letters = await js.subscribe(
            dlq_subject(HUB, "dispatch_ingest"),
            stream=self.settings.dlq_stream,
            ordered_consumer=True,
            cb=self._on_letter,
        )
        self._subs = [reports, letters]

    async def _on_event(self, msg: Msg) -> None:
        if (msg.headers or {}).get(H_EVENT_TYPE) == "dispatch.activity_reported":
            self.recorded.add(Envelope.from_bytes(msg.data).command_id)

    async def _on_letter(self, msg: Msg) -> None:
        headers = dict(msg.headers or {})
        seq = int(headers[H_DLQ_STREAM_SEQ])
        assert seq not in self.letters, f"ingest message {seq} dead-lettered twice"
        self.letters[seq] = headers


@pytest.fixture(scope="module")
def rig(nats_url: str) -> Iterator[Rig]:
    loop = Loop()
    settings = load_settings(env="test", hub=HUB, nats_url=nats_url, instance="fz", http_port=0)

    async def up() -> Rig:
        nc = await nats.connect(nats_url, name="vhub-ingest-fuzz", max_reconnect_attempts=0)
        await provision(nc.jetstream(), settings)
        registry = Registry(EventStore(nc, stream=settings.event_stream, hub=HUB))
        clock = ManualClock(NOW)
        app = await running.enter_async_context(
            hosted(settings, "dispatch-fz", lambda conn, s: DispatchApp(conn, s, clock=clock))
        )
        rig = Rig(loop, app, nc, settings, registry)
        await registry.point("p1")
        await rig.watch()
        rig.spent = await rig.checked_in()
        assert (await rig.ask("report_activity", dispatch_id=rig.spent, people_supported=1))["accepted"]
        return rig

    running = contextlib.AsyncExitStack()  # dispatch as its process runs it (shared.hosting)
    rig = loop.run(up())
    try:
        yield rig
    finally:
        loop.run(running.aclose())
        loop.run(rig.nc.drain())
        loop.close()


# -- hostile bodies ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**30, max_value=10**4000)
    | st.floats()
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=25,
)
hostile_text = st.text(st.characters(codec=None), max_size=40) | st.sampled_from(
    ["\x00", "a\u202eb", "\u200b", "\ue000", "\ufeff", "\ud800", "\U0010ffff"]
)
ID_KEYS = {"fact_id", "command_id"}  # a hostile fact never names an id: it would be its own
header_names = st.sampled_from(
    ["Nats-Msg-Id", "Nats-Expected-Last-Subject-Sequence", "Status", "Description", "Vhub-Event-Type"]
) | st.from_regex(r"[A-Za-z][A-Za-z0-9\-]{0,30}", fullmatch=True)
odd_headers = st.none() | st.dictionaries(
    header_names, st.from_regex(r"[!-~][ -~]{0,200}", fullmatch=True), max_size=4
)


def encode(body: Any, ascii_only: bool) -> bytes:
    return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def hostile(draw: st.DrawFn, template: dict[str, Any]) -> bytes:
    """One hostile body, shaped like a fact where that reaches deeper validation."""
    kind = draw(st.sampled_from(["bytes", "utf8", "deep", "wide", "huge", "number", "mutated", "array"]))
    TALLY[f"kind.{kind}"] += 1
    if kind == "bytes":
        return draw(st.binary(max_size=600))
    if kind == "utf8":
        raw = bytearray(encode(template, False))
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(raw)))
            raw[at:at] = draw(st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\x80"]))
        return bytes(raw)
    if kind == "deep":
        levels = draw(st.integers(10, 200_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('[{"b":', "}]")]))
        nested = opener * levels + "1" + (closer * levels if draw(st.booleans()) else "")
        return encode({**template, "people_supported": None}, True).replace(b"null", nested.encode(), 1)
    if kind == "wide":
        n = draw(st.integers(100, 40_000))
        return encode({**template, **{f"f{i}": i for i in range(n)}}, True)
    if kind == "huge":
        return encode({**template, "dispatch_id": "x" * draw(st.integers(1_000, 850_000))}, True)
    if kind == "number":
        literal = draw(
            st.sampled_from(["NaN", "Infinity", "1e999", "-0", "1E400", "-1", "1e3", "500.5"])
            | st.integers(20, 300_000).map(lambda n: "9" * n)
        )
        return encode({**template, "people_supported": None}, True).replace(b"null", literal.encode(), 1)
    if kind == "array":
        return encode([template], True)
    body = dict(template)
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["value", "text", "drop", "unknown"]))
        name = draw(st.sampled_from(sorted(template)))
        if action == "value":
            body[name] = draw(json_values)
        elif action == "text":
            body[name] = draw(hostile_text)
        elif action == "drop":
            body.pop(name, None)
        else:
            body[draw(hostile_text.filter(lambda k: k not in ID_KEYS))] = draw(json_values)
    return encode(body, draw(st.booleans()))


@dataclass(frozen=True)
class Sent:
    subject: str
    body: bytes
    headers: dict[str, str] | None
    valid: bool


@st.composite
def message(draw: st.DrawFn) -> Sent:
    if draw(st.integers(0, 3)) == 0:
        TALLY["kind.valid"] += 1
        return Sent(ingest_subject(HUB, "activity_reported"), b"", draw(odd_headers), True)
    template = {"dispatch_id": draw(st.sampled_from(["<spent>", "t9:nothing"])), "people_supported": 3}
    subject = ingest_subject(HUB, "activity_reported")
    if draw(st.integers(0, 9)) == 0:
        subject = ingest_subject(HUB, draw(st.from_regex(r"[a-z_]{1,20}", fullmatch=True)))
        TALLY["kind.other_subject"] += 1
    return Sent(subject, draw(hostile(template))[:MAX_SEND], draw(odd_headers), False)


async def publish(rig: Rig, batch: list[Sent]) -> tuple[dict[int, Sent], dict[int, str]]:
    """Send the batch in order; the stored ones by ingest sequence, and the valid ones' fact ids."""
    js = rig.nc.jetstream()
    stored: dict[int, Sent] = {}
    fact_ids: dict[int, str] = {}
    for sent in batch:
        body, fact_id = sent.body, ""
        if sent.valid:
            fact_id = f"fz-{uuid.uuid4().hex}"
            fact = {"fact_id": fact_id, "dispatch_id": await rig.checked_in(), "people_supported": 2}
            body = json.dumps(fact).encode()
        body = body.replace(b"<spent>", rig.spent.encode())
        try:
            ack = await js.publish(
                sent.subject, body, headers=sent.headers, stream=rig.settings.ingest_stream, timeout=10
            )
        except (nats.js.errors.APIError, nats.errors.TimeoutError):
            TALLY["not_stored"] += 1  # an expected-sequence header the stream refused, say
            continue
        if ack.duplicate:
            TALLY["not_stored"] += 1  # a Nats-Msg-Id header the stream had seen
            continue
        stored[ack.seq] = sent
        if sent.valid:
            fact_ids[ack.seq] = fact_id
    return stored, fact_ids


async def settle(rig: Rig, stored: dict[int, Sent], fact_ids: dict[int, str]) -> None:
    def outcome(seq: int) -> int:
        return (seq in rig.letters) + (fact_ids.get(seq, f"ingest:{seq}") in rig.recorded)

    deadline = asyncio.get_running_loop().time() + SETTLE_S
    while any(outcome(seq) == 0 for seq in stored):
        left = [seq for seq in stored if outcome(seq) == 0]
        assert asyncio.get_running_loop().time() < deadline, f"never recorded nor dead-lettered: {left[:5]}"
        await asyncio.sleep(0.02)  # polling what the log and the DLQ said, bounded by the deadline
    for seq, sent in stored.items():
        assert outcome(seq) == 1, f"ingest message {seq} both recorded and dead-lettered"
        if sent.valid:
            assert fact_ids[seq] in rig.recorded, (seq, rig.letters.get(seq))
            TALLY["recorded"] += 1
        else:
            letter = rig.letters[seq]
            assert letter[H_DLQ_REASON].strip(), letter
            assert letter[H_DLQ_CODE].strip(), letter
            TALLY["dead_lettered"] += 1
            TALLY[f"code.{letter[H_DLQ_CODE]}"] += 1


@given(st.lists(message(), min_size=3, max_size=10))
def test_every_ingest_fact_is_recorded_or_dead_lettered_and_dispatch_stays_up(
    rig: Rig, batch: list[Sent]
) -> None:
    """Each stored message of the batch is recorded or dead-lettered (one of the two), the valid
    ones are recorded, and dispatch never loses its link nor its consumers."""
    link = link_of(rig.app.nc)
    reconnects = link.reconnects
    stored, fact_ids = rig.loop.run(publish(rig, batch))
    rig.loop.run(settle(rig, stored, fact_ids))
    TALLY["examples"] += 1
    TALLY["messages"] += len(batch)
    TALLY["stored"] += len(stored)
    assert rig.app.nc.is_connected
    assert link.reconnects == reconnects, "dispatch lost its NATS link"
    assert link.lost_since is None
    assert not [t for t in rig.app._tasks if t.done()], "a dispatch consumer stopped"


def test_afterwards_dispatch_answers_and_the_counts_add_up(rig: Rig) -> None:
    """After the fuzz: dispatch answers a command, and recorded + dead-lettered = stored."""
    print(f"\ningest fuzz: {dict(sorted(TALLY.items()))}")  # the report quotes this line
    reply = rig.loop.run(rig.ask("check_in", dispatch_id="t9:nothing", at=AT))
    assert reply["accepted"] is False
    assert TALLY["recorded"] + TALLY["dead_lettered"] == TALLY["stored"]
