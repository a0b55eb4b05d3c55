"""Published and restated figures: which days a hub published, and what later facts changed.

A hub's ``DayClosed`` cuts its day: the figures before it are the published ones (dispatch states
them in the ``DayFiguresPublished`` that follows); every counted fact of that hub and day after
it is a restatement, written by the fold to ``rpt_restatement`` in the batch's transaction (so
once per event, also across redeliveries, crashes and rebuilds). A restatement's values are those
of one area (the commune asked for, else the row's province): ``published`` is the area's figure
now less every restatement of it, ``restated`` the figure once this event was counted.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select

from services.reporting.queries import Row, Snapshot
from shared.hubs import hub_codes, hub_of_province
from shared.refdata import communes

NO_MARKS: Row = {"published": False, "restated_at": None}


def covers(hub: str, province: str | None) -> bool:
    """Whether ``hub``'s publication speaks for ``province`` (None: the campaign). A hub outside
    the hub list (a dev or test hub) serves every province."""
    return province is None or hub not in hub_codes() or hub_of_province(province) == hub


async def _published_days(snap: Snapshot, start: date | None, end: date | None) -> list[Row]:
    dy = snap.t["days"]
    query = select(dy.c.hub, dy.c.day).where(dy.c.published_seq.is_not(None))
    if start:
        query = query.where(dy.c.day >= start)
    if end:
        query = query.where(dy.c.day <= end)
    return await snap.rows(query)


def _restated(snap: Snapshot, level: str, start: date | None, end: date | None) -> Select[Any]:
    r = snap.t["restatement"]
    column = r.c.commune_code if level == "commune" else r.c.province_code
    query = select(r.c.day, column.label("code"), func.max(r.c.recorded_at).label("at"))
    if start:
        query = query.where(r.c.day >= start)
    if end:
        query = query.where(r.c.day <= end)
    return query.group_by(r.c.day, column)


def _province_of(level: str, code: str) -> str | None:
    if level == "campaign":
        return None
    return code if level == "province" else communes()[code].province_code


async def marks(
    snap: Snapshot, level: str, codes: list[str], start: date | None = None, end: date | None = None
) -> dict[str, Row]:
    """Per area code: ``published`` (a day of the period was published for it) and
    ``restated_at`` (when its figures of the period were last restated, or None)."""
    days = await _published_days(snap, start, end)
    restated = await snap.rows(_restated(snap, level, start, end))
    last: dict[str, str] = {}
    for row in restated:
        code = "" if level == "campaign" else row["code"]
        if row["at"] and row["at"] > last.get(code, ""):
            last[code] = row["at"]
    out = {}
    for code in codes:
        province = _province_of(level, code)
        published = any(covers(d["hub"], province) for d in days) or code in last
        out[code] = {"published": published, "restated_at": last.get(code)}
    return out


async def day_marks(
    snap: Snapshot, province: str | None, start: date | None, end: date | None
) -> dict[date, Row]:
    """Per day of the campaign (or one province): published, and when last restated."""
    level, code = ("province", province) if province else ("campaign", "")
    out: dict[date, Row] = {}
    for d in await _published_days(snap, start, end):
        if covers(d["hub"], province):
            out[d["day"]] = {"published": True, "restated_at": None}
    for row in await snap.rows(_restated(snap, level, start, end)):
        if level == "province" and row["code"] != code:
            continue
        mark = out.setdefault(row["day"], {"published": True, "restated_at": None})
        if row["at"] and (mark["restated_at"] is None or row["at"] > mark["restated_at"]):
            mark["restated_at"] = row["at"]
    return out


async def restatements(
    snap: Snapshot,
    *,
    province: str | None = None,
    commune: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[Row]:
    """Every restatement of the place and days, in day then log order, with the published and
    restated values of its area (the commune asked for, else its province)."""
    r = snap.t["restatement"]
    query = select(r)
    if province:
        query = query.where(r.c.province_code == province)
    if commune:
        query = query.where(r.c.commune_code == commune)
    if start:
        query = query.where(r.c.day >= start)
    if end:
        query = query.where(r.c.day <= end)
    rows = await snap.rows(query.order_by(r.c.day, r.c.seq, r.c.figure, r.c.commune_code))
    level = "commune" if commune else "province"

    def area(row: Row) -> str:
        return str(row["commune_code"] if commune else row["province_code"])

    changed: defaultdict[tuple[str, date, str], int] = defaultdict(int)
    for row in rows:
        changed[(row["figure"], row["day"], area(row))] += row["change"]
    now = await _current(snap, level, {(d, c) for _, d, c in changed}, {f for f, _, _ in changed})
    running = {key: now.get(key, 0) - total for key, total in changed.items()}
    out = []
    for row in rows:
        key = (row["figure"], row["day"], area(row))
        before = running[key]
        running[key] = before + row["change"]
        out.append({**row, "level": level, "code": key[2], "published": before, "restated": running[key]})
    return out


async def _current(
    snap: Snapshot, level: str, places: set[tuple[date, str]], figures: set[str]
) -> dict[tuple[str, date, str], int]:
    """The daily figures served now for (day, code) pairs at ``level``."""
    if not places:
        return {}
    d = snap.t["daily"]
    codes = {c for _, c in places}
    days = {day for day, _ in places}
    query = select(d.c.day, d.c.code, *(d.c[f] for f in sorted(figures))).where(
        d.c.level == level, d.c.code.in_(codes), d.c.day.in_(days)
    )
    return {
        (f, row["day"], row["code"]): row[f]
        for row in await snap.rows(query)
        for f in figures
        if (row["day"], row["code"]) in places
    }
