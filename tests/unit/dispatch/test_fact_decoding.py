"""Dispatch reads its facts back in one typed pass: the same facts, the same poison reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from services.dispatch.facts import APPLIED, Cause, decode_fact
from shared.envelope import Envelope
from shared.events.dispatch import TeamDispatched
from shared.typedenvelopes import TypedEnvelopes
from shared.upcast import PoisonEventError, read_envelope, read_event

TEAM = "hn-440cde9e-5537-52f0-89a5-b04b4285a56c"


def logged(**changes: Any) -> bytes:
    event = TeamDispatched(
        dispatch_id=f"{TEAM}:abcdef123456",
        team_id=TEAM,
        service_point_id="hn-540cde9e-5537-52f0-89a5-b04b4285a56c",
        province_code="01",
        commune_code="00004",
        date="2025-07-03",
        starts_at="2025-07-03T08:00:00+07:00",
        ends_at="2025-07-03T12:00:00+07:00",
        focus="admin_support",
    )
    at = datetime(2025, 7, 3, 1, 2, 3, tzinfo=UTC)
    envelope = Envelope(
        event_id="e1",
        event_type=event.event_type,
        schema_version=event.schema_version,
        aggregate_id=TEAM,
        hub="hn",
        occurred_at=at,
        recorded_at=at,
        command_id="c1",
        correlation_id="k1",
        data=event.model_dump(mode="json"),
    )
    body = orjson.loads(envelope.to_bytes())
    body.update(changes)
    return orjson.dumps(body)


def general(seq: int, raw: bytes) -> tuple[Any, str | None]:
    try:
        envelope = read_envelope(raw)
        return (seq, read_event(envelope), Cause(envelope.correlation_id, envelope.event_id)), None
    except PoisonEventError as err:
        return None, err.reason


def test_a_current_fact_is_read_in_one_pass_as_the_general_path_reads_it() -> None:
    raw = logged()
    assert TypedEnvelopes(APPLIED).read(raw) is not None
    assert decode_fact(7, raw) == general(7, raw)


def test_what_the_typed_pass_does_not_take_gets_the_general_answer() -> None:
    """A newer version, an unknown type, a broken payload, a broken envelope: the general reason."""
    typed = TypedEnvelopes(APPLIED)
    for raw in (
        logged(schema_version=99),
        logged(event_type="dispatch.no_such_event"),
        logged(data={"team_id": TEAM}),
        logged(hub=None),
        b"{",
    ):
        assert typed.read(raw) is None
        fact, reason = decode_fact(7, raw)
        assert (fact, reason) == general(7, raw)
        assert reason is not None
