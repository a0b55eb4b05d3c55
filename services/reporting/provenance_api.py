"""``GET /v1/provenance``: the events behind a figure, page by page, with their sum.

Registered beside the other read routes by the composition root (it needs the log as well as
the read model: each contributing event's hub, type, ids and time are read from the log by its
stream sequence).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response

from services.reporting import models as m
from services.reporting.http import answer, place_or_404
from services.reporting.provenance import LogLookup, explain
from services.reporting.queries import ReadModel
from services.reporting.routers.common import ONE_OR_404, ReadsDep
from services.reporting.trail_schemas import ProvenancePage

TRACED = f"^({'|'.join(m.TRACED)})$"  # the schema says which figures have provenance


def provenance_router(read: ReadModel, log: LogLookup) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["reporting"])

    @router.get("/provenance", response_model=ProvenancePage, responses=ONE_OR_404)
    async def provenance(
        reads: ReadsDep,
        figure: Annotated[str, Query(pattern=TRACED, description=f"one of {', '.join(m.TRACED)}")],
        province: Annotated[str | None, Query(pattern=r"^[0-9]{1,2}$")] = None,
        commune: Annotated[str | None, Query(pattern=r"^[0-9]{5}$")] = None,
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Response:
        """The events that contributed to ``figure`` for the place (campaign, province or commune)
        and the days (``from``/``to``, local dates; none: the whole campaign), in log order, with
        ``sum`` of every contribution, equal to ``served``, the figure served at this position. A
        period whose ``from`` is after its ``to`` holds no day: nothing contributes."""
        if figure not in m.TRACED:
            raise HTTPException(
                422, detail={"reason": "untraced_figure", "message": f"one of {', '.join(m.TRACED)}"}
            )
        code, place = place_or_404(province, commune)
        async with read.snapshot() as snap:
            hubs = await reads.hubs(snap)
            ex = await explain(
                snap,
                figure,
                province=code,
                commune=place,
                start=start,
                end=end,
                page=page,
                page_size=page_size,
            )
        events = await log.describe([c.seq for c in ex.page])
        items: list[dict[str, Any]] = [
            {
                "stream_sequence": c.seq,
                **events[c.seq],
                "day": c.day,
                "province_code": c.province_code,
                "commune_code": c.commune_code,
                "contribution": c.contribution,
            }
            for c in ex.page
        ]
        body = {
            "figure": figure,
            "level": ex.level,
            "code": ex.code,
            "from": start,
            "to": end,
            "served": ex.served,
            "sum": ex.total,
            "events": ex.events,
            "page": page,
            "page_size": page_size,
            "items": items,
        }
        return answer(snap, hubs, body)

    return router
