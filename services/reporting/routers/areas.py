"""The campaign, its provinces and communes: figures and breakdowns per area."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Response

from services.reporting import models as m
from services.reporting.http import commune_or_404, province_or_404
from services.reporting.queries import Row, Snapshot
from services.reporting.restatements import marks
from services.reporting.routers.common import (
    LIST,
    LIST_OR_404,
    ONE,
    ONE_OR_404,
    Fmt,
    MinPosition,
    ReadsDep,
    Source,
)
from services.reporting.schemas import AREA_COLUMNS, Area, AreaList, CommuneList, FreshnessList, Summary
from shared.refdata import communes, communes_of, provinces

router = APIRouter(prefix="/v1", tags=["reporting"])
ZERO = dict.fromkeys(m.FIGURES, 0)


@router.get("/summary", response_model=Summary, responses=ONE)
async def summary(reads: ReadsDep, min_position: MinPosition = None) -> Response:
    """The campaign's figures, teams by focus and volunteers by affiliation."""

    async def body(snap: Snapshot) -> Row:
        figures = (await snap.figures("campaign", [""])).get("", ZERO)
        focus, affiliation = await snap.breakdowns("campaign", "")
        unresolved = sum(not p.resolved for p in reads.national.pairs())
        return {
            "figures": figures,
            "national": {
                "duplicate_pairs_unresolved": unresolved,
                "active_volunteers_counted_once": figures["active_volunteers"] - unresolved,
            },
            **(await marks(snap, "campaign", [""]))[""],
            "teams_by_focus": focus,
            "volunteers_by_affiliation": affiliation,
            **await snap.summary_extras(),
        }

    return await reads.one(min_position, body)


@router.get("/freshness", response_model=FreshnessList, responses=ONE)
async def freshness(reads: ReadsDep, min_position: MinPosition = None) -> Response:
    """How fresh the figures are, per hub, with the events applied and dead-lettered."""

    async def body(snap: Snapshot) -> Row:
        applied = {hub: r["events_applied"] for hub, r in (await snap.hub_rows()).items()}
        hubs = [{**h, "events_applied": applied.get(h["hub"], 0)} for h in await reads.hubs(snap)]
        return {"hubs": hubs, **await snap.counters(reads.read.projection)}

    return await reads.one(min_position, body)


@router.get("/provinces", response_model=AreaList, responses=LIST)
async def province_list(reads: ReadsDep, fmt: Fmt = "json", min_position: MinPosition = None) -> Response:
    """Figures of every province (34 rows)."""
    units = [(p.code, p.name) for p in sorted(provinces().values(), key=lambda p: p.code)]
    return await reads.listing(fmt, "provinces", AREA_COLUMNS, _area_rows("province", units), min_position)


@router.get("/provinces/{code}", response_model=Area, responses=ONE_OR_404)
async def province(code: str, reads: ReadsDep, min_position: MinPosition = None) -> Response:
    """One province's figures and breakdowns (``1`` and ``01`` name the same province)."""
    norm = province_or_404(code)
    assert norm is not None
    return await reads.one(min_position, _area("province", norm, provinces()[norm].name))


@router.get("/provinces/{code}/communes", response_model=CommuneList, responses=LIST_OR_404)
async def province_communes(
    code: str, reads: ReadsDep, fmt: Fmt = "json", min_position: MinPosition = None
) -> Response:
    """Figures of every commune of one province."""
    norm = province_or_404(code)
    assert norm is not None
    units = [(c.code, c.name) for c in communes_of(norm)]
    source = _area_rows("commune", units)
    extra = {"province_code": norm}
    return await reads.listing(fmt, f"communes-{norm}", AREA_COLUMNS, source, min_position, extra)


@router.get("/communes/{code}", response_model=Area, responses=ONE_OR_404)
async def commune(code: str, reads: ReadsDep, min_position: MinPosition = None) -> Response:
    """One commune's figures and breakdowns (leading zeros optional)."""
    norm = commune_or_404(code)
    return await reads.one(min_position, _area("commune", norm, communes()[norm].name))


def _area(level: str, code: str, name: str) -> Callable[[Snapshot], Awaitable[Row]]:
    async def body(snap: Snapshot) -> Row:
        figures = (await snap.figures(level, [code])).get(code, ZERO)
        focus, affiliation = await snap.breakdowns(level, code)
        return {
            "level": level,
            "code": code,
            "name": name,
            "figures": figures,
            **(await marks(snap, level, [code]))[code],
            "teams_by_focus": focus,
            "volunteers_by_affiliation": affiliation,
        }

    return body


def _area_rows(level: str, units: list[tuple[str, str]]) -> Source:
    async def source(snap: Snapshot) -> AsyncIterator[list[Row]]:
        codes = [c for c, _ in units]
        known, marked = await snap.figures(level, codes), await marks(snap, level, codes)
        yield [{"code": c, "name": n, **known.get(c, ZERO), **marked[c]} for c, n in units]

    return source
