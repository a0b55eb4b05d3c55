"""``GET /v1/restatements``: figures of published days that later facts changed, and why.

Registered beside the other read routes by the composition root, like ``/v1/provenance``: each
restating event's type, ids and time are read from the log by its stream sequence.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.reporting.http import answer, place_or_404
from services.reporting.provenance import LogLookup
from services.reporting.queries import ReadModel
from services.reporting.restatements import restatements
from services.reporting.routers.common import ONE_OR_404, ReadsDep
from services.reporting.trail_schemas import RestatementPage


def restatements_router(read: ReadModel, log: LogLookup) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["reporting"])

    @router.get("/restatements", response_model=RestatementPage, responses=ONE_OR_404)
    async def restated(
        reads: ReadsDep,
        province: Annotated[str | None, Query(pattern=r"^[0-9]{1,2}$")] = None,
        commune: Annotated[str | None, Query(pattern=r"^[0-9]{5}$")] = None,
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Response:
        """Every change to a published day's figures (a fact that arrived after its hub closed
        the day), by day then log order: which ``figure`` at which place and ``day``, the event
        that caused it (``stream_sequence``, ``event_type``, ``event_id``, ``command_id``, ``hub``,
        ``recorded_at``), its ``change``, and the area's ``published`` and ``restated`` values
        (``level``/``code``: the commune asked for, else the row's province). A period whose
        ``from`` is after its ``to`` holds no day: nothing is listed."""
        code, place = place_or_404(province, commune)
        async with read.snapshot() as snap:
            hubs = await reads.hubs(snap)
            found = await restatements(snap, province=code, commune=place, start=start, end=end)
        shown = found[(page - 1) * page_size : page * page_size]
        events = await log.describe(sorted({r["seq"] for r in shown}))
        items: list[dict[str, Any]] = [
            {
                "figure": r["figure"],
                "day": r["day"],
                "province_code": r["province_code"],
                "commune_code": r["commune_code"],
                "stream_sequence": r["seq"],
                **events[r["seq"]],
                "change": r["change"],
                "level": r["level"],
                "code": r["code"],
                "published": r["published"],
                "restated": r["restated"],
            }
            for r in shown
        ]
        body = {
            "province_code": code,
            "commune_code": place,
            "from": start,
            "to": end,
            "total": len(found),
            "page": page,
            "page_size": page_size,
            "items": items,
        }
        return answer(snap, hubs, body)

    return router
