"""Lists over time and places: the daily series, teams, border communes, coverage, duplicates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Response

from services.reporting.http import named, province_or_404
from services.reporting.queries import Row, Snapshot
from services.reporting.restatements import NO_MARKS, day_marks
from services.reporting.routers.common import (
    LIST,
    LIST_OR_404,
    Fmt,
    MinPosition,
    ProvinceQ,
    ReadsDep,
    Source,
    rows,
)
from services.reporting.schemas import (
    BORDER_COLUMNS,
    COVERAGE_COLUMNS,
    DAY_COLUMNS,
    DUPLICATE_COLUMNS,
    TEAM_COLUMNS,
    BorderList,
    CoverageList,
    Covered,
    DailyList,
    DuplicateList,
    Focus,
    TeamPage,
)

router = APIRouter(prefix="/v1", tags=["reporting"])
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
Day = Annotated[date | None, Query(alias="date")]
MAX_PAGE = 1_000_000  # offsets stay far inside a 64-bit SQL integer (schemathesis found page=1e18)


@router.get("/daily", response_model=DailyList, responses=LIST_OR_404)
async def daily(
    reads: ReadsDep,
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
    extra = {"province_code": code}
    source = _days_marked(code, start, end)
    return await reads.listing(fmt, "daily", DAY_COLUMNS, source, min_position, extra)


def _days_marked(province: str | None, start: date | None, end: date | None) -> Source:
    """The daily rows, each with whether its day was published and when it was last restated."""

    async def source(snap: Snapshot) -> AsyncIterator[list[Row]]:
        marked = await day_marks(snap, province, start, end)
        async for chunk in snap.stream(snap.daily(province, start, end)):
            yield [{**r, **marked.get(r["day"], NO_MARKS)} for r in chunk]

    return source


@router.get("/teams", response_model=TeamPage, responses=LIST_OR_404)
async def teams(
    reads: ReadsDep,
    province: ProvinceQ = None,
    focus: Focus | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    fmt: Fmt = "json",
    min_position: MinPosition = None,
) -> Response:
    """Teams (paged; the CSV holds every page)."""
    code = province_or_404(province)
    offset = (page - 1) * page_size

    async def extra(snap: Snapshot) -> Row:
        return {"page": page, "page_size": page_size, "total": await snap.count(snap.teams(code, focus))}

    return await reads.listing(
        fmt,
        "teams",
        TEAM_COLUMNS,
        rows(lambda s: s.teams(code, focus).limit(page_size).offset(offset)),
        min_position,
        extra,
        csv_source=rows(lambda s: s.teams(code, focus)),
    )


@router.get("/border-communes", response_model=BorderList, responses=LIST)
async def border(
    reads: ReadsDep,
    covered: Covered | None = None,
    on: Day = None,
    fmt: Fmt = "json",
    min_position: MinPosition = None,
) -> Response:
    """Designated border communes: had a team (checked in) on ``date``, in the week to it,
    or never. ``date`` defaults to today (Asia/Ho_Chi_Minh)."""
    day = on or datetime.now(LOCAL_TZ).date()
    source = rows(lambda s: s.border(day, covered), named)
    extra = {"date": day, "covered": covered}
    return await reads.listing(fmt, "border-communes", BORDER_COLUMNS, source, min_position, extra)


@router.get("/coverage", response_model=CoverageList, responses=LIST)
async def coverage(
    reads: ReadsDep, on: Day = None, fmt: Fmt = "json", min_position: MinPosition = None
) -> Response:
    """Requested vs dispatched teams per service point and day, with over-capacity counts."""
    source = rows(lambda s: s.coverage(on))
    return await reads.listing(fmt, "coverage", COVERAGE_COLUMNS, source, min_position, {"date": on})


@router.get("/possible-duplicates", response_model=DuplicateList, responses=LIST_OR_404)
async def duplicates(
    reads: ReadsDep, province: ProvinceQ = None, fmt: Fmt = "json", min_position: MinPosition = None
) -> Response:
    """Volunteers the registry flagged as possible duplicates (ids only)."""
    code = province_or_404(province)
    source = rows(lambda s: s.duplicates(code))
    return await reads.listing(fmt, "possible-duplicates", DUPLICATE_COLUMNS, source, min_position)
