"""Decoding messages: the typed fast path agrees with the general upcasting path."""

from __future__ import annotations

from datetime import UTC, datetime

from nats.aio.msg import Msg

from services.reporting.decoding import decode_msg
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
        bad.to_bytes(): "invalid registry.volunteer_registered v2",
    }
    for raw, expected in cases.items():
        item, reason = decode_msg(message(raw, {H_SCHEMA_VERSION: "2"}))
        assert item.event is None
        assert reason is not None
        assert expected in reason
