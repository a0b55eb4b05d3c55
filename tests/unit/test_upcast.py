"""Old event versions are upcast on read; the log is never rewritten."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.envelope import Envelope
from shared.events.registry import VolunteerRegistered
from shared.upcast import UnknownEventError, decode

NOW = datetime(2025, 7, 1, tzinfo=UTC)
V1: dict[str, object] = {
    "volunteer_id": "v1",
    "full_name": "Đỗ Minh Tâm",
    "phone": "+84912345678",
    "birth_date": "2001-01-01",
    "province_code": "01",
    "commune_code": "00070",
    "affiliation": "youth_union",
}


def envelope(event_type: str, version: int, data: dict[str, object]) -> Envelope:
    return Envelope(
        event_id="e",
        event_type=event_type,
        schema_version=version,
        aggregate_id="v1",
        hub="hn",
        occurred_at=NOW,
        recorded_at=NOW,
        command_id="c",
        correlation_id="c",
        data=data,
    )


def test_v1_registration_reads_as_current_version() -> None:
    """A v1 VolunteerRegistered (no skills) decodes as the current model with skills = []."""
    event = decode(envelope("registry.volunteer_registered", 1, V1))
    assert isinstance(event, VolunteerRegistered)
    assert event.skills == []


def test_current_version_decodes_unchanged() -> None:
    event = decode(envelope("registry.volunteer_registered", 2, {**V1, "skills": ["a"]}))
    assert isinstance(event, VolunteerRegistered)
    assert event.skills == ["a"]


@pytest.mark.parametrize(
    ("event_type", "version"), [("registry.nope", 1), ("registry.volunteer_registered", 9)]
)
def test_unknown_types_and_future_versions_are_refused(event_type: str, version: int) -> None:
    """What this code cannot read raises UnknownEventError (consumers dead-letter it)."""
    with pytest.raises(UnknownEventError):
        decode(envelope(event_type, version, V1))
