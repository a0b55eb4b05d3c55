"""A campaign-shaped event log written straight into a stream, for projection rebuilds.

The mix follows the campaign scenario: per team, a formation, ~28 volunteers (registered, joined,
member added) and ~27 shifts (dispatched, checked in, checked out, activity reported). Payloads are
the real event models' fields; the first event of each type is validated against its model.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import nats

from shared.events import CATALOGUE, load_all
from shared.refdata import communes

LOCAL = "+07:00"


def _env(hub: str, event_type: str, aggregate_id: str, data: dict[str, object], now: str, n: int) -> bytes:
    return json.dumps(
        {
            "event_id": f"{aggregate_id}-{n}",
            "event_type": event_type,
            "schema_version": CATALOGUE[event_type].schema_version,
            "aggregate_id": aggregate_id,
            "hub": hub,
            "occurred_at": now,
            "recorded_at": now,
            "command_id": f"bench-{n}",
            "correlation_id": "bench",
            "causation_id": None,
            "actor": "bench",
            "data": data,
        }
    ).encode()


def events(hub: str, count: int) -> Iterator[tuple[str, bytes]]:
    """``count`` (subject, envelope bytes) in a plausible order."""
    load_all()
    now = datetime.now(UTC).isoformat()
    places = sorted(communes().values(), key=lambda c: c.code)
    n = 0
    team_no = 0
    while True:
        team_no += 1
        c = places[(team_no * 37) % len(places)]
        team = str(uuid.uuid4())
        ev = "registry.team_formed"
        out: list[tuple[str, str, str, dict[str, object]]] = [
            (
                f"vhub.evt.{hub}.registry.team.{team}",
                ev,
                team,
                {
                    "team_id": team,
                    "name": f"Đội {team_no}",
                    "province_code": c.province_code,
                    "commune_code": None,
                    "focus": "digital_skills",
                    "organisation": "bench",
                },
            )
        ]
        for k in range(28):
            vol = str(uuid.uuid4())
            vsubj = f"vhub.evt.{hub}.registry.volunteer.{vol}"
            out.append(
                (
                    vsubj,
                    "registry.volunteer_registered",
                    vol,
                    {
                        "volunteer_id": vol,
                        "full_name": f"Nguyễn Văn {k}",
                        "phone": f"+8490{k:07d}",
                        "birth_date": "2000-01-01",
                        "province_code": c.province_code,
                        "commune_code": c.code,
                        "affiliation": "youth_union",
                        "skills": ["digital"],
                    },
                )
            )
            out.append((vsubj, "registry.volunteer_joined_team", vol, {"volunteer_id": vol, "team_id": team}))
            out.append(
                (
                    f"vhub.evt.{hub}.registry.team.{team}",
                    "registry.team_member_added",
                    team,
                    {"team_id": team, "volunteer_id": vol},
                )
            )
        point = str(uuid.uuid4())
        for s in range(27):
            day = date(2025, 7, 1) + timedelta(days=s * 2 % 62)
            where = {
                "service_point_id": point,
                "province_code": c.province_code,
                "commune_code": c.code,
                "date": day.isoformat(),
            }
            did = f"{team}:{s:012d}"
            ids = {"dispatch_id": did, "team_id": team}
            subj = f"vhub.evt.{hub}.dispatch.schedule.{team}"
            out.append(
                (
                    subj,
                    "dispatch.team_dispatched",
                    team,
                    {
                        **where,
                        **ids,
                        "starts_at": f"{day}T08:00:00{LOCAL}",
                        "ends_at": f"{day}T17:00:00{LOCAL}",
                        "focus": "digital_skills",
                    },
                )
            )
            out.append(
                (
                    subj,
                    "dispatch.team_checked_in",
                    team,
                    {**where, **ids, "at": f"{day}T07:55:00{LOCAL}", "late": False},
                )
            )
            out.append(
                (subj, "dispatch.team_checked_out", team, {**where, **ids, "at": f"{day}T17:05:00{LOCAL}"})
            )
            out.append(
                (
                    subj,
                    "dispatch.activity_reported",
                    team,
                    {
                        **where,
                        **ids,
                        "people_supported": 40,
                        "businesses_supported": 2,
                        "officials_supported": 1,
                        "online_applications_guided": 20,
                        "digital_sessions_held": 2,
                        "session_attendees": 50,
                        "elderly_attendees": 20,
                    },
                )
            )
        for subject, ev, agg, data in out:
            if n < 200:
                CATALOGUE[ev].model_validate(data)  # the generator speaks the real schema
            yield subject, _env(hub, ev, agg, data, now, n)
            n += 1
            if n >= count:
                return


async def write(url: str, hub: str, count: int) -> float:
    """Append ``count`` events to the hub's stream; returns seconds taken."""
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=60, publish_async_max_pending=4_000)
    started = time.perf_counter()
    try:
        pending = []
        for subject, payload in events(hub, count):
            pending.append(await js.publish_async(subject, payload))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await nc.close()
    return time.perf_counter() - started
