"""Decoding messages: the typed fast path agrees with the general upcasting path."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from nats.aio.msg import Msg

from services.reporting.decoding import IRRELEVANT, decode_msg
from shared.delivery import pending_after, stream_seq
from shared.envelope import H_EVENT_TYPE, H_SCHEMA_VERSION, Envelope
from shared.upcast import decode
from tests.integration.reporting.campaign import generate

NOW = datetime(2025, 7, 1, tzinfo=UTC)


def message(raw: bytes, headers: dict[str, str], seq: int = 42) -> Msg:
    reply = f"$JS.ACK.STREAM.durable.1.{seq}.{seq}.1700000000000000000.0"
    return Msg(
        _client=None,  # type: ignore[arg-type]  # reading a message needs no client
        subject="vhub.evt.hn.x.y.z",
        reply=reply,
        data=raw,
        headers=headers,
    )


def test_fast_path_equals_the_general_path_for_every_event_of_a_campaign() -> None:
    """Every event of a generated campaign decodes to what shared.upcast.decode gives."""
    for n, (_, env) in enumerate(generate("hn", volunteers=40, teams=4, days=2), start=1):
        item, reason = decode_msg(message(env.to_bytes(), env.headers(), seq=n))
        assert reason is None
        assert item.seq == n
        assert item.recorded_at == env.recorded_at
        assert item.event is None or item.event == decode(env)
        assert item.ignored == (item.event is None)


def test_headers_that_disagree_with_the_body_fall_back_to_the_body() -> None:
    """A wrong type header cannot smuggle a payload past validation."""
    _, env = generate("hn", volunteers=2, teams=0, days=0)[1]
    headers = {**env.headers(), H_EVENT_TYPE: "registry.volunteer_withdrawn"}
    item, reason = decode_msg(message(env.to_bytes(), headers))
    assert reason is None
    assert item.event == decode(env)


def test_poison_gets_a_reason() -> None:
    """Undecodable bytes, unknown types and too-new versions are refused with a reason."""
    _, env = generate("hn", volunteers=2, teams=0, days=0)[1]
    unknown = env.model_copy(update={"event_type": "registry.volunteer_levitated"})
    future = env.model_copy(update={"schema_version": 99})
    bad = Envelope(**{**env.model_dump(), "data": {"volunteer_id": 5}})
    cases = {
        b"{not json": "undecodable envelope",
        unknown.to_bytes(): "unknown event type",
        future.to_bytes(): "newer than this code",
        bad.to_bytes(): "invalid registry.volunteer_registered v3",
    }
    for raw, expected in cases.items():
        item, reason = decode_msg(message(raw, {H_SCHEMA_VERSION: "3"}))
        assert item.event is None
        assert reason is not None
        assert expected in reason


def test_the_body_alone_is_enough_headers_are_not_needed() -> None:
    """Events written without Vhub headers (e.g. copied by a source) decode all the same."""
    for n, (_, env) in enumerate(generate("hn", volunteers=40, teams=4, days=2), start=1):
        item, reason = decode_msg(message(env.to_bytes(), {}, seq=n))
        assert reason is None
        assert item.event is None or item.event == decode(env)


def test_an_older_version_is_upcast_not_taken_as_the_current_one() -> None:
    """A v1 registration (no skills) takes the upcasting path, even where its body would also
    validate against the current model."""
    _, env = generate("hn", volunteers=2, teams=0, days=0)[1]
    assert env.event_type == "registry.volunteer_registered"
    v1 = env.model_copy(
        update={"schema_version": 1, "data": {k: v for k, v in env.data.items() if k != "skills"}}
    )
    item, reason = decode_msg(message(v1.to_bytes(), {}))
    assert reason is None
    assert item.event == decode(v1)


def test_malformed_events_still_get_a_reason_on_the_fast_path() -> None:
    """Whatever the fast path refuses is dead-lettered with the general path's wording: a bad
    field in a counted event, a bad envelope field, an unexpected field, a too-new ignored type."""
    events = generate("hn", volunteers=40, teams=4, days=2)
    registered = next(env for _, env in events if env.event_type == "registry.volunteer_registered")
    ignored = next(env for _, env in events if env.event_type in IRRELEVANT)
    bad_date = next(env for _, env in events if "date" in env.data)
    raw_registered = registered.model_dump(mode="json")
    cases = {
        Envelope(**{**registered.model_dump(), "data": {**registered.data, "province_code": 7}}).to_bytes(): (
            "invalid registry.volunteer_registered v3: province_code"
        ),
        Envelope(**{**bad_date.model_dump(), "data": {**bad_date.data, "date": "tomorrow"}}).to_bytes(): (
            f"invalid {bad_date.event_type}"
        ),
        json.dumps(
            {**raw_registered, "recorded_at": "yesterday"}
        ).encode(): "undecodable envelope: recorded_at",
        json.dumps({**raw_registered, "colour": "red"}).encode(): "undecodable envelope: colour",
        ignored.model_copy(update={"schema_version": 99}).to_bytes(): "newer than this code",
    }
    for raw, expected in cases.items():
        item, reason = decode_msg(message(raw, {}))
        assert item.event is None
        assert not item.ignored
        assert reason is not None
        assert expected in reason, (expected, reason)


def test_an_ignored_type_is_recognised_without_its_payload_model() -> None:
    _, env = next(
        (s, e) for s, e in generate("hn", volunteers=40, teams=4, days=2) if e.event_type in IRRELEVANT
    )
    item, reason = decode_msg(message(env.to_bytes(), {}, seq=7))
    assert (item.seq, item.event, item.ignored, item.recorded_at, reason) == (
        7,
        None,
        True,
        env.recorded_at,
        None,
    )


def test_sequences_and_pending_counts_come_from_either_reply_form() -> None:
    """v1 replies and v2 replies (with domain and account hash, with or without the trailing token)."""
    v1 = "$JS.ACK.VHUB_EVT_HN.rb.1.1234.77.1700000000000000000.56"
    v2 = "$JS.ACK.hub.ACCOUNTHASH.VHUB_EVT_HN.rb.1.1234.77.1700000000000000000.56"
    for reply in (v1, v2, v2 + ".x9"):
        msg = Msg(_client=None, subject="s", reply=reply, data=b"", headers=None)  # type: ignore[arg-type]
        assert stream_seq(msg) == msg.metadata.sequence.stream == 1234
        assert pending_after(msg) == msg.metadata.num_pending == 56
