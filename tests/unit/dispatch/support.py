"""Builders for the pure dispatch tests: facts, commands and states made by folding events."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from services.dispatch.domain.commands import DispatchTeam, PlanRotation
from services.dispatch.domain.evolve import evolve_schedule
from services.dispatch.domain.model import LOCAL_TZ, PointView, Policy, Schedule, TeamView
from shared.decider import fold
from shared.events import Event
from shared.events.dispatch import TeamDispatched

POLICY = Policy()
TEAM = TeamView("t1", "01", "00004", "admin_support", frozenset({"v1", "v2"}))
POINT = PointView("p1", "01", "00004")
POINT2 = PointView("p2", "01", "00008")
NOW = datetime(2025, 7, 10, 12, 0, tzinfo=LOCAL_TZ)


def at(day: int, hour: int, minute: int = 0, month: int = 7) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=LOCAL_TZ)


def dispatched(
    dispatch_id: str = "t1:d1",
    starts: datetime | None = None,
    ends: datetime | None = None,
    point: PointView = POINT,
) -> TeamDispatched:
    starts = starts or at(10, 8)
    ends = ends or at(10, 12)
    return TeamDispatched(
        dispatch_id=dispatch_id,
        team_id=dispatch_id.split(":")[0],
        service_point_id=point.service_point_id,
        province_code=point.province_code,
        commune_code=point.commune_code,
        date=starts.astimezone(LOCAL_TZ).date(),
        starts_at=starts,
        ends_at=ends,
        focus="admin_support",
    )


def schedule(*events: Event) -> Schedule:
    return fold(evolve_schedule, Schedule(), events)


def dispatch_cmd(**over: Any) -> DispatchTeam:
    body: dict[str, Any] = {
        "team_id": "t1",
        "service_point_id": "p1",
        "starts_at": at(10, 8),
        "ends_at": at(10, 12),
    }
    return DispatchTeam.model_validate(body | over)


def rotation_cmd(**over: Any) -> PlanRotation:
    body: dict[str, Any] = {
        "team_id": "t1",
        "service_point_ids": ["p1", "p2"],
        "from_date": date(2025, 7, 14),
        "to_date": date(2025, 7, 18),
        "daily_starts_at": time(8),
        "daily_ends_at": time(12),
    }
    return PlanRotation.model_validate(body | over)
