"""The rows of one batch: read the entity rows it touches, write its changes as upserts.

Called by :mod:`services.reporting.store` inside the batch's transaction; a handful of statements
per batch whatever its size (``IN`` reads, multi-row ``INSERT … ON CONFLICT`` writes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import models as m
from services.reporting.projections import Changes, Loaded, wanted
from services.reporting.projections.rows import DuplicateRow, TeamRow, VolunteerRow
from shared.events import Event


class BatchRows:
    """Dialect-aware reads and upserts (SQLite and PostgreSQL share ``ON CONFLICT``)."""

    def __init__(self, postgres: bool) -> None:
        self._pg = postgres
        self._statements: dict[tuple[Any, ...], Any] = {}

    async def load(self, conn: AsyncConnection, t: dict[str, Table], events: list[Event]) -> Loaded:
        want, out = wanted(events), Loaded()
        if want.volunteers:
            v = t["volunteer"]
            for row in await conn.execute(select(v).where(v.c.volunteer_id.in_(want.volunteers))):
                out.volunteers[row.volunteer_id] = VolunteerRow(**row._mapping)
        if want.teams:
            tt = t["team"]
            for row in await conn.execute(select(tt).where(tt.c.team_id.in_(want.teams))):
                out.teams[row.team_id] = TeamRow(**row._mapping)
        if want.memberships:
            ms = t["membership"]
            key = tuple_(ms.c.team_id, ms.c.volunteer_id)
            for row in await conn.execute(select(ms).where(key.in_(want.memberships))):
                out.memberships[(row.team_id, row.volunteer_id)] = bool(row.active)
        if want.team_days:
            td = t["team_day"]
            key = tuple_(td.c.day, td.c.team_id)
            for row in await conn.execute(select(td).where(key.in_(want.team_days))):
                out.team_days.add((row.day, row.team_id, row.level, row.code))
        if want.duplicates:
            du = t["duplicate"]
            for row in await conn.execute(select(du).where(du.c.volunteer_id.in_(want.duplicates))):
                out.duplicates[row.volunteer_id] = DuplicateRow(**row._mapping)
        return out

    async def write(self, conn: AsyncConnection, t: dict[str, Table], c: Changes) -> None:
        figs = m.FIGURES
        await self._add(
            conn,
            t["figures"],
            ["level", "code"],
            [{"level": a[0], "code": a[1], **{f: n.get(f, 0) for f in figs}} for a, n in c.figures.items()],
        )
        await self._add(
            conn,
            t["daily"],
            ["day", "level", "code"],
            [
                {"day": k[0], "level": k[1], "code": k[2], **{f: n.get(f, 0) for f in figs}}
                for k, n in c.daily.items()
            ],
        )
        await self._add(
            conn,
            t["focus"],
            ["level", "code", "focus"],
            [{"level": k[0], "code": k[1], "focus": k[2], "teams": n} for k, n in c.focus.items()],
        )
        await self._add(
            conn,
            t["affiliation"],
            ["level", "code", "affiliation"],
            [
                {"level": k[0], "code": k[1], "affiliation": k[2], "volunteers": n}
                for k, n in c.affiliation.items()
            ],
        )
        await self._add(
            conn,
            t["coverage"],
            ["day", "service_point_id"],
            [
                {
                    "day": k[0],
                    "service_point_id": k[1],
                    "province_code": d.province_code,
                    "commune_code": d.commune_code,
                    "requested": d.requested,
                    "dispatched": d.dispatched,
                    "check_ins": d.check_ins,
                    "over_capacity": d.over_capacity,
                }
                for k, d in c.coverage.items()
            ],
            exclude=("province_code", "commune_code"),
        )
        s = c.state
        await self._replace(
            conn, t["volunteer"], ["volunteer_id"], [_row(s.volunteers[i]) for i in c.dirty_volunteers]
        )
        await self._replace(conn, t["team"], ["team_id"], [_row(s.teams[i]) for i in c.dirty_teams])
        await self._replace(
            conn,
            t["membership"],
            ["team_id", "volunteer_id"],
            [
                {"team_id": k[0], "volunteer_id": k[1], "active": s.memberships[k]}
                for k in c.dirty_memberships
            ],
        )
        await self.insert(
            conn,
            t["team_day"],
            ["day", "team_id", "level", "code"],
            [{"day": k[0], "team_id": k[1], "level": k[2], "code": k[3]} for k in c.new_team_days],
            None,
        )
        await self._replace(conn, t["border"], ["commune_code"], [_row(b) for b in c.border.values()])
        await self._replace(
            conn, t["duplicate"], ["volunteer_id"], [_row(s.duplicates[i]) for i in c.dirty_duplicates]
        )

    async def _add(
        self,
        conn: AsyncConnection,
        table: Table,
        keys: list[str],
        rows: list[dict[str, Any]],
        exclude: Sequence[str] = (),
    ) -> None:
        if rows:
            cols = tuple(c for c in rows[0] if c not in keys and c not in exclude)
            await conn.execute(self._upsert(table, tuple(keys), cols, add=True), rows)

    async def _replace(
        self, conn: AsyncConnection, table: Table, keys: list[str], rows: list[dict[str, Any]]
    ) -> None:
        if rows:
            cols = tuple(c for c in rows[0] if c not in keys)
            await conn.execute(self._upsert(table, tuple(keys), cols, add=False), rows)

    async def insert(
        self, conn: AsyncConnection, table: Table, keys: list[str], rows: list[dict[str, Any]], _: None
    ) -> None:
        if rows:
            await conn.execute(self._upsert(table, tuple(keys), None, add=False), rows)

    def _upsert(self, table: Table, keys: tuple[str, ...], cols: tuple[str, ...] | None, *, add: bool) -> Any:
        """The batch's statement for ``table``, built once per shape (saves building and cache-keying
        it on every batch): add to counters, replace rows, or (``cols`` None) insert if absent."""
        shape = (table.name, keys, cols, add)
        stmt = self._statements.get(shape)
        if stmt is None:
            base = pg_insert(table) if self._pg else sqlite_insert(table)
            if cols is None:
                stmt = base.on_conflict_do_nothing(index_elements=list(keys))
            else:
                set_ = {c: (table.c[c] + base.excluded[c]) if add else base.excluded[c] for c in cols}
                stmt = base.on_conflict_do_update(index_elements=list(keys), set_=set_)
            self._statements[shape] = stmt
        return stmt


def _row(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}
