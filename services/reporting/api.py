"""The read-only HTTP API (GET only; OpenAPI at /openapi.json).

Every answer carries its freshness (the log position it reflects and when the last applied event
was recorded), in the body and in ``Vhub-Position``/``Vhub-Last-Event-At`` headers. ``min_position``
holds a request until the projection has caught up, or answers 503 with ``Retry-After``. Lists also
come as CSV (``?format=csv``), streamed from the database cursor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Response

from services.reporting import models as m
from services.reporting.consumer import PositionWatch
from services.reporting.http import (
    AnswerCache,
    Waiter,
    answer,
    cached_answer,
    commune_or_404,
    csv_response,
    named,
    province_or_404,
)
from services.reporting.queries import ReadModel, Row, Snapshot
from shared.refdata import communes, communes_of, provinces

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
Fmt = Annotated[Literal["json", "csv"], Query(alias="format", description="json or csv")]
MinPosition = Annotated[int | None, Query(ge=1, description="wait until this log position")]
ProvinceQ = Annotated[str | None, Query(pattern=r"^\d{1,2}$", description="province code")]
Focus = Literal["admin_support", "online_public_services", "digital_skills"]
Source = Callable[[Snapshot], AsyncIterator[list[Row]]]
AREA = ["code", "name", *m.FIGURES]
# CSV columns (the JSON items carry the same fields)
TEAM = list(m.SHAPES["team"].columns.keys())
COVERAGE = [*m.SHAPES["coverage"].columns.keys(), "shortfall"]
BORDER = [*m.SHAPES["border"].columns.keys(), "name", "covered_day", "covered_week"]
BORDER += ["days_covered", "last_covered"]


def _rows(make: Callable[[Snapshot], Any], enrich: Callable[[Row], Row] | None = None) -> Source:
    async def source(snap: Snapshot) -> AsyncIterator[list[Row]]:
        async for chunk in snap.stream(make(snap)):
            yield [enrich(r) for r in chunk] if enrich else chunk

    return source


def build_api(
    read: ReadModel,
    watch: PositionWatch,
    *,
    max_wait_s: float = 5.0,
    extra_routers: list[APIRouter] | None = None,
) -> FastAPI:
    app = FastAPI(title="vhub reporting", version="1", docs_url=None, redoc_url=None, description=__doc__)
    waiter = Waiter(read, watch, max_wait_s)
    cache = AnswerCache()

    async def respond(
        fmt: str,
        name: str,
        columns: list[str],
        source: Source,
        min_position: int | None,
        extra: dict[str, Any] | None = None,
        csv_source: Source | None = None,
    ) -> Response:
        await waiter.until(min_position)
        stack = AsyncExitStack()
        snap = await stack.enter_async_context(read.snapshot())
        if fmt == "csv":
            return csv_response(name, columns, csv_source or source, stack, snap)
        async with stack:
            if hit := cached_answer(cache, snap):
                return hit
            items = [r async for chunk in source(snap) for r in chunk]
            return answer(snap, {**(extra or {}), "items": items}, cache)

    async def area(level: str, code: str, name: str, min_position: int | None) -> Response:
        await waiter.until(min_position)
        async with read.snapshot() as snap:
            if hit := cached_answer(cache, snap):
                return hit
            figures = (await snap.figures(level, [code])).get(code, dict.fromkeys(m.FIGURES, 0))
            focus, affiliation = await snap.breakdowns(level, code)
            return answer(
                snap,
                {
                    "level": level,
                    "code": code,
                    "name": name,
                    "figures": figures,
                    "teams_by_focus": focus,
                    "volunteers_by_affiliation": affiliation,
                },
                cache,
            )

    def area_rows(level: str, units: list[tuple[str, str]]) -> Source:
        async def source(snap: Snapshot) -> AsyncIterator[list[Row]]:
            known = await snap.figures(level, [c for c, _ in units])
            zero = dict.fromkeys(m.FIGURES, 0)
            yield [{"code": c, "name": n, **known.get(c, zero)} for c, n in units]

        return source

    v1 = APIRouter(prefix="/v1", tags=["reporting"], dependencies=[Depends(cache.remember)])

    @v1.get("/summary")
    async def summary(min_position: MinPosition = None) -> Response:
        """The campaign's figures, teams by focus and volunteers by affiliation."""
        await waiter.until(min_position)
        async with read.snapshot() as snap:
            if hit := cached_answer(cache, snap):
                return hit
            figures = (await snap.figures("campaign", [""])).get("", dict.fromkeys(m.FIGURES, 0))
            focus, affiliation = await snap.breakdowns("campaign", "")
            return answer(
                snap,
                {
                    "figures": figures,
                    "teams_by_focus": focus,
                    "volunteers_by_affiliation": affiliation,
                    **await snap.summary_extras(),
                },
                cache,
            )

    @v1.get("/provinces")
    async def province_list(fmt: Fmt = "json", min_position: MinPosition = None) -> Response:
        """Figures of every province (34 rows)."""
        units = [(p.code, p.name) for p in sorted(provinces().values(), key=lambda p: p.code)]
        return await respond(fmt, "provinces", AREA, area_rows("province", units), min_position)

    @v1.get("/provinces/{code}")
    async def province(code: str, min_position: MinPosition = None) -> Response:
        norm = province_or_404(code)
        assert norm is not None
        return await area("province", norm, provinces()[norm].name, min_position)

    @v1.get("/provinces/{code}/communes")
    async def province_communes(code: str, fmt: Fmt = "json", min_position: MinPosition = None) -> Response:
        norm = province_or_404(code)
        assert norm is not None
        units = [(c.code, c.name) for c in communes_of(norm)]
        return await respond(
            fmt, f"communes-{norm}", AREA, area_rows("commune", units), min_position, {"province_code": norm}
        )

    @v1.get("/communes/{code}")
    async def commune(code: str, min_position: MinPosition = None) -> Response:
        norm = commune_or_404(code)
        return await area("commune", norm, communes()[norm].name, min_position)

    @v1.get("/daily")
    async def daily(
        province: ProvinceQ = None,
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
        fmt: Fmt = "json",
        min_position: MinPosition = None,
    ) -> Response:
        """Figures per local day, for the campaign or one province."""
        if start and end and start > end:
            raise HTTPException(422, detail={"reason": "bad_range", "message": "from > to"})
        code = province_or_404(province)
        return await respond(
            fmt,
            "daily",
            ["day", *m.FIGURES],
            _rows(lambda s: s.daily(code, start, end)),
            min_position,
            {"province_code": code},
        )

    @v1.get("/teams")
    async def teams(
        province: ProvinceQ = None,
        focus: Focus | None = None,
        page: Annotated[int, Query(ge=1)] = 1,
        page_size: Annotated[int, Query(ge=1, le=500)] = 50,
        fmt: Fmt = "json",
        min_position: MinPosition = None,
    ) -> Response:
        """Teams (paged; the CSV holds every page)."""
        code = province_or_404(province)
        offset = (page - 1) * page_size
        paged = _rows(lambda s: s.teams(code, focus).limit(page_size).offset(offset))
        async with read.snapshot() as snap:
            total = await snap.count(snap.teams(code, focus))
        return await respond(
            fmt,
            "teams",
            TEAM,
            paged,
            min_position,
            {"page": page, "page_size": page_size, "total": total},
            csv_source=_rows(lambda s: s.teams(code, focus)),
        )

    @v1.get("/border-communes")
    async def border(
        covered: Literal["day", "week", "never"] | None = None,
        on: Annotated[date | None, Query(alias="date")] = None,
        fmt: Fmt = "json",
        min_position: MinPosition = None,
    ) -> Response:
        """Designated border communes: had a team (checked in) on ``date``, in the week to it,
        or never. ``date`` defaults to today (Asia/Ho_Chi_Minh)."""
        day = on or datetime.now(LOCAL_TZ).date()
        return await respond(
            fmt,
            "border-communes",
            BORDER,
            _rows(lambda s: s.border(day, covered), named),
            min_position,
            {"date": day, "covered": covered},
        )

    @v1.get("/coverage")
    async def coverage(
        on: Annotated[date | None, Query(alias="date")] = None,
        fmt: Fmt = "json",
        min_position: MinPosition = None,
    ) -> Response:
        """Requested vs dispatched teams per service point and day, with over-capacity counts."""
        return await respond(
            fmt, "coverage", COVERAGE, _rows(lambda s: s.coverage(on)), min_position, {"date": on}
        )

    @v1.get("/possible-duplicates")
    async def duplicates(
        province: ProvinceQ = None, fmt: Fmt = "json", min_position: MinPosition = None
    ) -> Response:
        """Volunteers the registry flagged as possible duplicates (ids only)."""
        code = province_or_404(province)
        return await respond(
            fmt,
            "possible-duplicates",
            ["volunteer_id", "province_code", "duplicate_of"],
            _rows(lambda s: s.duplicates(code)),
            min_position,
        )

    app.include_router(v1)
    for router in extra_routers or []:
        app.include_router(router)
    return app
