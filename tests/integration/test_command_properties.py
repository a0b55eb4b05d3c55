"""Property tests (hypothesis) for every command subject of registry and dispatch, against the real
service processes of the embedded stack and its real nats-server (issue 10).

Bodies: arbitrary bytes, invalid UTF-8, deep and wide JSON, huge strings and numbers, unknown fields,
wrong types, hostile text, odd headers, each sent to a command subject in small concurrent batches.
Properties: every message gets a typed reply (accepted, or refused with a code that is not
``internal_error``) within a deadline, bounded in size; afterwards every service process is alive and
still answers on its NATS link, and a small simulated campaign's ground truth is exact.

The templates are shaped like real commands (so mutations reach deep validation and the rules) but
carry at least one refusal that a single mutation cannot lift (unknown ids, dates outside the
campaign, an unknown province), so the fuzz writes nothing the campaign could meet. The profile
(tests/conftest.py) sets the size: ``make test`` runs the default, ``make fuzz`` the large one.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import Counter
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import nats
import nats.errors
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client

from shared.refusals import MAX_REPLY_BYTES
from tests.support.waiting import free_port
from vhub.devstack import DevStack
from vhub.simulate import run_scenario

pytestmark = pytest.mark.property
T = TypeVar("T")
DEADLINE_S = 15.0  # a reply within this, on a loaded 2-core machine (a missing reply is the defect)
MAX_SEND = 900_000  # below the default max_payload: the sender itself must not be cut off
CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

LANDLINE = "024 3999 0000"  # the simulator draws mobile numbers only: no clash with its volunteers
FAR = "2099-01-01"  # outside the campaign: dispatch refuses it whatever else is right
TEMPLATES: dict[str, dict[str, Any]] = {
    "registry.register_volunteer": {
        "full_name": "Thử Nghiệm",
        "phone": LANDLINE,
        "birth_date": "2020-01-01",  # five years old, and no consent: two refusals
        "province_code": "01",
        "commune_code": "00070",
        "affiliation": "youth_union",
        "skills": ["digital skills"],
        "consent": False,
    },
    "registry.update_volunteer": {"volunteer_id": "fz-none", "full_name": "Thử Nghiệm"},
    "registry.withdraw_volunteer": {"volunteer_id": "fz-none", "reason": "fuzz"},
    "registry.erase_volunteer": {"volunteer_id": "fz-none", "reason": "subject_request"},
    "registry.export_volunteer": {"volunteer_id": "fz-none"},
    "registry.form_team": {
        "name": "Đội thử",
        "province_code": "99",  # unknown, and the commune is elsewhere
        "commune_code": "00070",
        "focus": "digital_skills",
        "organisation": "Đoàn thử",
    },
    "registry.add_team_member": {"team_id": "fz-none", "volunteer_id": "fz-none"},
    "registry.remove_team_member": {"team_id": "fz-none", "volunteer_id": "fz-none"},
    "registry.appoint_team_leader": {"team_id": "fz-none", "volunteer_id": "fz-none"},
    "registry.disband_team": {"team_id": "fz-none", "reason": "fuzz"},
    "registry.register_service_point": {
        "name": "Điểm thử",
        "kind": "commune_one_stop",
        "province_code": "99",
        "commune_code": "00070",
    },
    "registry.designate_border_communes": {"commune_codes": ["fz1", "fz2"], "effective_from": FAR},
    "dispatch.request_coverage": {
        "service_point_id": "fz-none",
        "date": FAR,
        "starts_at": "08:00",
        "ends_at": "12:00",
        "teams_needed": 1,
    },
    "dispatch.dispatch_team": {
        "team_id": "fz-none",
        "service_point_id": "fz-none",
        "starts_at": f"{FAR}T08:00:00+07:00",
        "ends_at": f"{FAR}T12:00:00+07:00",
    },
    "dispatch.plan_rotation": {
        "team_id": "fz-none",
        "service_point_ids": ["fz-none"],
        "from_date": FAR,
        "to_date": "2099-01-03",
        "daily_starts_at": "08:00",
        "daily_ends_at": "12:00",
    },
    "dispatch.cancel_dispatch": {"dispatch_id": "fz-none:abc", "reason": "fuzz"},
    "dispatch.check_in": {"dispatch_id": "fz-none:abc", "at": f"{FAR}T08:05:00+07:00"},
    "dispatch.check_out": {"dispatch_id": "fz-none:abc", "at": f"{FAR}T11:55:00+07:00"},
    "dispatch.close_day": {"date": FAR},
    "dispatch.report_activity": {"dispatch_id": "fz-none:abc", "people_supported": -1},
    "dispatch.correct_field_report": {"dispatch_id": "fz-none:abc", "people_supported": 3},
    "dispatch.suggest_teams": {"request_id": "fz-none:abc", "limit": 5},
}
SUBJECTS = sorted(TEMPLATES)
TALLY: Counter[str] = Counter()

# JSON values of every kind, with numbers past any sane bound (json.dumps writes NaN and Infinity)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**30, max_value=10**4000)  # json.dumps stops at 4,300 digits
    | st.floats()
    | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=25,
)
hostile_text = st.text(st.characters(codec=None), max_size=60) | st.sampled_from(
    ["\x00", "a\u202eb", "\u200b", "\ue000", "\ufeff", "\ud800", "\U0010ffff", "Ʌ\u0301", "\u2066x\u2069"]
)
header_names = st.sampled_from(
    ["Nats-Msg-Id", "Nats-Expected-Last-Subject-Sequence", "Status", "Description", "X-Vhub-Actor"]
) | st.from_regex(r"[A-Za-z][A-Za-z0-9\-]{0,30}", fullmatch=True)
headers = st.none() | st.dictionaries(
    header_names, st.from_regex(r"[!-~][ -~]{0,300}", fullmatch=True), max_size=4
)


def encode(body: Any, ascii_only: bool) -> bytes:
    # lone surrogates become \udxxx escapes, or (surrogatepass) bytes that are not UTF-8
    return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def mutated(draw: st.DrawFn, template: dict[str, Any]) -> bytes:
    """The template with a few fields replaced, removed or added; keys and values hostile."""
    body = dict(template)
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from(sorted(template)))
        action = draw(st.sampled_from(["value", "text", "drop", "unknown", "huge"]))
        if action == "value":
            body[field] = draw(json_values)
        elif action == "text":
            body[field] = draw(hostile_text)
        elif action == "drop":
            body.pop(field, None)
        elif action == "unknown":
            body[draw(hostile_text | st.integers(1, 700_000).map(lambda n: "k" * n))] = draw(json_values)
        else:
            body[field] = "x" * draw(st.integers(1_000, 800_000))
    return encode(body, draw(st.booleans()))


@st.composite
def deep(draw: st.DrawFn, template: dict[str, Any]) -> bytes:
    levels = draw(st.integers(10, 200_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('[{"b":', "}]")]))
    nested = opener * levels + "1" + (closer * levels if draw(st.booleans()) else "")
    field = draw(st.sampled_from(sorted(template)))
    return encode({**template, field: None}, True).replace(b"null", nested.encode(), 1)


@st.composite
def wide(draw: st.DrawFn, template: dict[str, Any]) -> bytes:
    n = draw(st.integers(100, 40_000))
    if draw(st.booleans()):
        return encode({**template, **{f"f{i}": i for i in range(n)}}, True)
    field = draw(st.sampled_from(sorted(template)))
    return encode({**template, field: [str(i) for i in range(n)]}, True)


@st.composite
def huge_number(draw: st.DrawFn, template: dict[str, Any]) -> bytes:
    literal = draw(
        st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-0", "1E400", "0.0000001e-400"])
        | st.integers(20, 300_000).map(lambda n: "9" * n)
    )
    field = draw(st.sampled_from(sorted(template)))
    return encode({**template, field: None}, True).replace(b"null", literal.encode(), 1)


@st.composite
def broken_utf8(draw: st.DrawFn, template: dict[str, Any]) -> bytes:
    raw = bytearray(encode(template, False))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw)))
        raw[at:at] = draw(st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\x80"]))
    return bytes(raw)


@st.composite
def message(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str] | None]:
    subject = draw(st.sampled_from(SUBJECTS))
    template = TEMPLATES[subject]
    kind = draw(st.sampled_from(["bytes", "mutated", "deep", "wide", "number", "utf8", "template"]))
    TALLY[f"kind.{kind}"] += 1
    if kind == "bytes":
        body = draw(st.binary(max_size=600))
    elif kind == "mutated":
        body = draw(mutated(template))
    elif kind == "deep":
        body = draw(deep(template))
    elif kind == "wide":
        body = draw(wide(template))
    elif kind == "number":
        body = draw(huge_number(template))
    elif kind == "utf8":
        body = draw(broken_utf8(template))
    else:
        body = encode(template, draw(st.booleans()))
    return subject, body[:MAX_SEND], draw(headers)


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
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    dev = DevStack(
        data_dir=tmp_path_factory.mktemp("fuzz") / "stack",
        nats_port=-1,
        http_port=free_port(),
        sync_always=False,
        hub="hn",
    )
    dev.start(timeout=120)
    try:
        yield dev
    finally:
        dev.stop()


@pytest.fixture(scope="module")
def client(stack: DevStack) -> Iterator[tuple[Loop, Client]]:
    loop = Loop()
    nc = loop.run(nats.connect(stack.nats_url, name="vhub-fuzz", max_reconnect_attempts=0))
    try:
        yield loop, nc
    finally:
        loop.run(nc.close())
        loop.close()


async def ask(nc: Client, subject: str, body: bytes, hdrs: dict[str, str] | None) -> bytes:
    reply = await nc.request(f"vhub.cmd.{subject}", body, timeout=DEADLINE_S, headers=hdrs)
    return bytes(reply.data)


def check_reply(subject: str, data: bytes) -> None:
    assert len(data) <= MAX_REPLY_BYTES, (subject, len(data))
    reply = json.loads(data)
    assert isinstance(reply, dict), (subject, data[:200])
    if reply.get("accepted") is True:
        TALLY["accepted"] += 1
        return
    assert reply.get("accepted") is False, (subject, data[:200])
    code = reply.get("code")
    assert isinstance(code, str), (subject, data[:200])
    assert CODE.match(code), (subject, data[:200])
    assert isinstance(reply.get("reason"), str)
    assert code != "internal_error", (subject, data[:300])
    TALLY[f"code.{code}"] += 1


@given(st.lists(message(), min_size=3, max_size=8))
def test_every_hostile_command_gets_a_bounded_typed_reply(
    client: tuple[Loop, Client], batch: list[tuple[str, bytes, dict[str, str] | None]]
) -> None:
    """Each message of a concurrent batch gets a typed, bounded reply within the deadline."""
    loop, nc = client

    async def send_all() -> list[bytes | BaseException]:
        return await asyncio.gather(*(ask(nc, s, b, h) for s, b, h in batch), return_exceptions=True)

    TALLY["examples"] += 1
    for (subject, _, _), data in zip(batch, loop.run(send_all()), strict=True):
        TALLY["messages"] += 1
        assert not isinstance(data, BaseException), (subject, repr(data))
        check_reply(subject, data)


def test_afterwards_every_service_lives_and_a_campaign_is_exact(
    stack: DevStack, client: tuple[Loop, Client], capsys: pytest.CaptureFixture[str]
) -> None:
    """After the fuzz: every process alive, each context answers on its link, ground truth exact."""
    loop, nc = client
    with capsys.disabled():  # the figures of the run, shown even under -q (the note quotes them)
        print(f"\nhostile command fuzz: {dict(sorted(TALLY.items()))}")
    for name, proc in stack.procs.items():
        assert proc.alive(), name
    for subject in ("registry.withdraw_volunteer", "dispatch.close_day"):
        check_reply(subject, loop.run(ask(nc, subject, encode(TEMPLATES[subject], True), None)))
    report = loop.run(
        run_scenario(
            stack.nats_url,
            stack.procs["reporting"].url,
            "campaign",
            scale=0.002,
            seed=7,
            concurrency=32,
            show_progress=False,
        ),
        timeout=600,
    )
    bad = [(r.figure, r.expected, r.reported, r.note) for r in report.rows if not r.ok]
    assert not bad, (bad, report.tally.unexpected_samples[:10])
