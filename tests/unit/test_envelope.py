"""Ids derived from command ids must never change: they are how a resend finds its first answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.envelope import VHUB_NAMESPACE, Envelope, derive_id


@pytest.mark.parametrize(
    "parts",
    [("hn", "volunteer", "cmd-1"), ("",), ("hcm", "c\x1fd", "Nguyễn Văn Đức", "0"), tuple("abcdefgh")],
)
def test_derive_id_is_uuid5_of_the_joined_parts(parts: tuple[str, ...]) -> None:
    assert derive_id(*parts) == str(uuid.uuid5(VHUB_NAMESPACE, "\x1f".join(parts)))


def test_derive_id_is_pinned() -> None:
    """A value recorded in logs written since the first release."""
    assert derive_id("hn", "volunteer", "reg-1") == "440cde9e-5537-52f0-89a5-b04b4285a56c"
    assert uuid.UUID(derive_id("x")).version == 5


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
moments = st.datetimes(
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-3, minutes=-30))])
)


@pytest.mark.property
@given(
    st.dictionaries(st.text(max_size=8), json_values, max_size=5), moments, st.none() | st.text(max_size=8)
)
def test_logged_bytes_are_pydantics(data: dict[str, Any], at: datetime, causation: str | None) -> None:
    """The envelope's logged bytes are exactly model_dump_json's, whatever the payload holds."""
    env = Envelope.model_construct(
        event_id="e",
        event_type="registry.volunteer_withdrawn",
        schema_version=1,
        aggregate_id="a",
        hub="hn",
        occurred_at=at,
        recorded_at=at,
        command_id="c",
        correlation_id="c",
        causation_id=causation,
        actor="system",
        data=data,
    )
    assert env.to_bytes() == env.model_dump_json().encode()
    assert Envelope.from_bytes(env.to_bytes()) == Envelope.model_validate_json(env.model_dump_json())
