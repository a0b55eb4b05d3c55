"""An accepted command's reply is the model validated from the same values, to the byte."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.aggregates import EventRef, Outcome
from shared.commands import Accepted, EventInfo
from shared.refusals import encode_reply

pytestmark = pytest.mark.property

refs = st.lists(
    st.builds(EventRef, st.integers(1, 2**40), st.text(max_size=30), st.uuids().map(str)), max_size=4
).map(tuple)
warnings = st.none() | st.lists(
    st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3), max_size=2
)
results = st.none() | st.dictionaries(
    st.text(max_size=8), st.integers() | st.text(max_size=20) | st.none(), max_size=4
)


@given(st.uuids().map(str), st.integers(0, 2**40), refs, st.booleans(), warnings, results)
def test_accepted_reply_is_the_validated_one(
    aggregate_id: str,
    version: int,
    events: tuple[EventRef, ...],
    duplicate: bool,
    warned: list[dict[str, Any]] | None,
    result: dict[str, Any] | None,
) -> None:
    """Accepted.of equals, and encodes to the same bytes as, the model validated from the same values."""
    outcome = Outcome(aggregate_id, version, events, duplicate)
    extra: dict[str, Any] = {"result": result}
    if warned is not None:
        extra["warnings"] = warned
    fast = Accepted.of(outcome, **extra)
    checked = Accepted(
        aggregate_id=aggregate_id,
        version=version,
        events=[EventInfo(event_type=e.event_type, event_id=e.event_id, seq=e.seq) for e in events],
        duplicate=duplicate,
        **extra,
    )
    assert fast == checked
    assert encode_reply(fast) == encode_reply(checked)


any_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.datetimes(timezones=st.none() | st.timezones())
    | st.dates(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(
    refs,
    st.booleans(),
    st.lists(st.dictionaries(st.text(max_size=5), any_value, max_size=3), max_size=2),
    st.none() | st.dictionaries(st.text(max_size=5), any_value, max_size=4),
)
def test_the_reply_bytes_are_pydantics(
    events: tuple[EventRef, ...], duplicate: bool, warned: list[dict[str, Any]], result: dict[str, Any] | None
) -> None:
    """The reply orjson writes is, to the byte, ``model_dump_json(exclude_none=True)``, whatever the
    result and warnings hold (floats, big integers, datetimes, nesting, None)."""
    reply = Accepted.of(Outcome("a", 7, events, duplicate), warnings=warned, result=result)
    assert reply.json_bytes() == reply.model_dump_json(exclude_none=True).encode()
    assert encode_reply(reply) == reply.model_dump_json(exclude_none=True).encode()
