"""Commands and events of realistic size for the benchmarks (the same shape in every row)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from shared.envelope import H_EXPECTED_LAST_SUBJECT_SEQ, H_MSG_ID
from shared.refdata import communes

_COMMUNES = sorted(communes().values(), key=lambda c: c.code)
_SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng")
_GIVEN = ("Văn An", "Thị Bình", "Minh Châu", "Quốc Dũng", "Thu Hà", "Đức Huy", "Ngọc Lan")


def register_volunteer(i: int, run: str) -> dict[str, object]:
    """A valid ``register_volunteer`` command with a phone unique to ``(run, i)``."""
    commune = _COMMUNES[i % len(_COMMUNES)]
    salt = int(uuid.UUID(run).int % 90)  # different runs on one stream use different phones
    return {
        "command_id": f"bench-{run}-{i}",
        "full_name": f"{_SURNAMES[i % 10]} {_GIVEN[i % 7]} {i}",
        "phone": f"09{(salt * 1_000_000 + i) % 100_000_000:08d}",
        "birth_date": f"{1990 + i % 15}-{1 + i % 12:02d}-{1 + i % 28:02d}",
        "province_code": commune.province_code,
        "commune_code": commune.code,
        "affiliation": "youth_union",
        "skills": ["digital_skills", "admin_support"],
        "consent": True,
    }


def event_dict(hub: str, aggregate_id: str, command_id: str, data: dict[str, object]) -> dict[str, object]:
    """A VolunteerRegistered envelope as plain JSON, built the way a bare handler would."""
    now = datetime.now(UTC).isoformat()
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "registry.volunteer_registered",
        "schema_version": 2,
        "aggregate_id": aggregate_id,
        "hub": hub,
        "occurred_at": now,
        "recorded_at": now,
        "command_id": command_id,
        "correlation_id": command_id,
        "causation_id": None,
        "actor": "bench",
        "data": data,
    }


def new_aggregate_headers(hub: str, command_id: str, aggregate_id: str) -> dict[str, str]:
    """Msg-Id and 'subject must be empty' (expected sequence 0), as vhub appends a new aggregate."""
    return {H_MSG_ID: f"{hub}:{command_id}:{aggregate_id}:0", H_EXPECTED_LAST_SUBJECT_SEQ: "0"}


def volunteer_event(hub: str, i: int, run: str) -> tuple[str, bytes, dict[str, str]]:
    """One new-aggregate event as the bare handler writes it: subject, payload, headers."""
    aggregate_id = str(uuid.uuid4())
    command = register_volunteer(i, run)
    command_id = str(command["command_id"])
    event = event_dict(hub, aggregate_id, command_id, command)
    headers = new_aggregate_headers(hub, command_id, aggregate_id)
    return f"vhub.evt.{hub}.registry.volunteer.{aggregate_id}", json.dumps(event).encode(), headers


def refusal_code(raw: bytes) -> str | None:
    """None for an accepted reply, else its code."""
    body = json.loads(raw)
    if body.get("accepted"):
        return None
    return str(body.get("code", "unknown"))


def dumps_register(i: int, run: str) -> bytes:
    return json.dumps(register_volunteer(i, run)).encode()


def register_factory(run: str, offset: int = 0) -> Callable[[int], bytes]:
    """``i -> register_volunteer`` bytes, phones unique per (run, offset + i)."""
    return lambda i: dumps_register(i + offset, run)
