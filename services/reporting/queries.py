"""The read side of the read models: one snapshot per request, in the live colour.

Reads never block the projection (WAL on SQLite, MVCC on PostgreSQL). Each request opens one
transaction, reads the live colour and its checkpoint (the response's freshness), then its data,
so the figures and the freshness always agree, also across a rebuild's switch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, Table, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.reporting import models as m
from services.reporting.store import CHECKPOINT, PROJECTION_ROW

Row = dict[str, Any]


@dataclass(frozen=True)
class Freshness:
    position: int  # the last stream sequence this answer reflects
    last_event_at: datetime | None  # when the last applied event was recorded
    colour: str


class ReadModel:
    def __init__(self, engine: AsyncEngine, projection: str = m.PROJECTION) -> None:
        self.engine = engine
        self.projection = projection

    async def position(self) -> int:
        async with self.snapshot() as snap:
            return snap.freshness.position

    async def hub_positions(self) -> dict[str, int]:
        async with self.snapshot() as snap:
            return {hub: int(r["position"]) for hub, r in (await snap.hub_rows()).items()}

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Snapshot]:
        async with self.engine.connect() as conn, conn.begin():
            query = (
                select(PROJECTION_ROW.c.active_colour, CHECKPOINT.c.position, CHECKPOINT.c.last_event_at)
                .join(
                    CHECKPOINT,
                    and_(
                        CHECKPOINT.c.projection == PROJECTION_ROW.c.projection,
                        CHECKPOINT.c.colour == PROJECTION_ROW.c.active_colour,
                    ),
                )
                .where(PROJECTION_ROW.c.projection == self.projection)
            )
            row = (await conn.execute(query)).one()
            colour: m.Colour = "green" if row[0] == "green" else "blue"
            yield Snapshot(conn, Freshness(int(row[1]), row[2], colour), m.TABLES[colour])


@dataclass
class Snapshot:
    conn: AsyncConnection
    freshness: Freshness
    t: Mapping[str, Table]

    async def rows(self, query: Select[Any]) -> list[Row]:
        return [dict(r._mapping) for r in await self.conn.execute(query)]

    async def stream(self, query: Select[Any], chunk: int = 500) -> AsyncIterator[list[Row]]:
        result = await self.conn.stream(query)
        async for part in result.partitions(chunk):
            yield [dict(r._mapping) for r in part]

    async def hub_rows(self) -> dict[str, Row]:
        """How far the figures go in each hub's log (:class:`models.HubPosition`), by hub."""
        return {r["hub"]: r for r in await self.rows(select(self.t["hub"]))}

    async def figures(self, level: str, codes: list[str] | None = None) -> dict[str, Row]:
        """Figures per code at ``level`` (all codes, or those named); missing ones are absent."""
        f = self.t["figures"]
        query = select(f).where(f.c.level == level)
        if codes is not None:
            query = query.where(f.c.code.in_(codes))
        return {r["code"]: {k: r[k] for k in m.FIGURES} for r in await self.rows(query)}

    async def breakdowns(self, level: str, code: str) -> tuple[dict[str, int], dict[str, int]]:
        """Active teams by focus and active volunteers by affiliation in one area."""
        fo, af = self.t["focus"], self.t["affiliation"]
        focus = await self.rows(select(fo.c.focus, fo.c.teams).where(fo.c.level == level, fo.c.code == code))
        aff = await self.rows(
            select(af.c.affiliation, af.c.volunteers).where(af.c.level == level, af.c.code == code)
        )
        return (
            {r["focus"]: r["teams"] for r in focus if r["teams"]},
            {r["affiliation"]: r["volunteers"] for r in aff if r["volunteers"]},
        )

    async def count(self, query: Select[Any]) -> int:
        return int(
            (
                await self.conn.execute(select(func.count()).select_from(query.order_by(None).subquery()))
            ).scalar_one()
        )

    def daily(self, province: str | None, start: date | None, end: date | None) -> Select[Any]:
        d = self.t["daily"]
        level, code = ("province", province) if province else ("campaign", "")
        query = select(d.c.day, *(d.c[k] for k in m.FIGURES)).where(d.c.level == level, d.c.code == code)
        if start:
            query = query.where(d.c.day >= start)
        if end:
            query = query.where(d.c.day <= end)
        return query.order_by(d.c.day)

    def teams(self, province: str | None, focus: str | None) -> Select[Any]:
        t = self.t["team"]
        query = select(t)
        if province:
            query = query.where(t.c.province_code == province)
        if focus:
            query = query.where(t.c.focus == focus)
        return query.order_by(t.c.team_id)

    def border(self, on: date, covered: str | None) -> Select[Any]:
        """Designated border communes with whether a team checked in there on ``on``, in the
        seven days ending ``on``, and ever."""
        b, d = self.t["border"], self.t["daily"]
        seen = and_(d.c.level == "commune", d.c.code == b.c.commune_code, d.c.check_ins > 0, d.c.day <= on)
        week_from = max(on, date.min + timedelta(days=6)) - timedelta(days=6)  # 0001-01-01 is a date too
        grouped = (
            select(
                b.c.commune_code,
                b.c.province_code,
                b.c.effective_from,
                func.max(case((d.c.day == on, 1), else_=0)).label("covered_day"),
                func.max(case((d.c.day >= week_from, 1), else_=0)).label("covered_week"),
                func.count(d.c.day).label("days_covered"),
                func.max(d.c.day).label("last_covered"),
            )
            .select_from(b.outerjoin(d, seen))
            .group_by(b.c.commune_code, b.c.province_code, b.c.effective_from)
            .subquery()
        )
        query = select(grouped)
        if covered == "day":
            query = query.where(grouped.c.covered_day == 1)
        elif covered == "week":
            query = query.where(grouped.c.covered_week == 1)
        elif covered == "never":
            query = query.where(grouped.c.days_covered == 0)
        return query.order_by(grouped.c.commune_code)

    def coverage(self, on: date | None) -> Select[Any]:
        c = self.t["coverage"]
        query = select(c, (c.c.requested - c.c.dispatched).label("shortfall"))
        if on:
            query = query.where(c.c.day == on)
        return query.order_by(c.c.day, c.c.service_point_id)

    def duplicates(self, province: str | None) -> Select[Any]:
        du = self.t["duplicate"]
        query = select(du)
        if province:
            query = query.where(du.c.province_code == province)
        return query.order_by(du.c.volunteer_id)

    async def counters(self, projection: str) -> Row:
        """How many events the live colour applied and how many it dead-lettered."""
        c = CHECKPOINT.c
        query = select(c.events_applied, c.dead_lettered).where(
            c.projection == projection, c.colour == self.freshness.colour
        )
        row = (await self.conn.execute(query)).one_or_none()
        return {"events_applied": row[0] if row else 0, "dead_lettered": row[1] if row else 0}

    async def summary_extras(self) -> Row:
        b, du = self.t["border"], self.t["duplicate"]
        return {
            "border_communes": await self.count(select(b.c.commune_code)),
            "possible_duplicates": await self.count(select(du.c.volunteer_id)),
            "first_day": (await self.conn.execute(select(func.min(self.t["daily"].c.day)))).scalar_one(),
        }
