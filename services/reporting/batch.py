"""The rows of one batch: read the entity rows it touches, write its changes as upserts
(planned by :mod:`services.reporting.plan`).

Called by :mod:`services.reporting.store` inside the batch's transaction; a handful of statements
per batch whatever its size (``IN`` reads, multi-row ``INSERT … ON CONFLICT`` writes).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.plan import INDEX_COLUMNS, Planner, Statement, Trail
from services.reporting.projections import Changes, Loaded, wanted
from services.reporting.projections.rows import DayRow, DuplicateRow, TeamRow, VolunteerRow
from shared.events import Event

__all__ = ["INDEX_COLUMNS", "BatchRows", "Trail"]


class BatchRows:
    """Dialect-aware reads and upserts (SQLite and PostgreSQL share ``ON CONFLICT``)."""

    def __init__(self, postgres: bool) -> None:
        self._pg = postgres
        self.planner = Planner(postgres)

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
        if want.days:
            dy = t["days"]
            for row in await conn.execute(select(dy).where(dy.c.day.in_(want.days))):
                out.days[(row.hub, row.day)] = DayRow(**row._mapping)
        return out

    async def write(self, conn: AsyncConnection, t: dict[str, Table], c: Changes) -> None:
        await self.run(conn, self.planner.plan(t, c))

    async def run(self, conn: AsyncConnection, statements: Iterable[Statement]) -> None:
        """Execute planned statements (:class:`services.reporting.plan.Planner`) in order."""
        for kind, text, rows in statements:
            if not rows:
                continue
            if kind == "copy":
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection  # asyncpg's connection, inside our transaction
                await driver.copy_records_to_table(text, records=rows, columns=list(INDEX_COLUMNS))
            else:
                await conn.exec_driver_sql(text, rows)  # a list of tuples: executemany

    async def index(self, conn: AsyncConnection, table: Table, trail: list[Trail]) -> None:
        """The provenance rows of ``trail`` (:meth:`Planner.index`), written."""
        await self.run(conn, [self.planner.index(table, trail)])

    async def hub_positions(self, conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
        """Per hub: the new position, the last event's time (kept when the batch had none), the
        events applied added."""
        if rows:
            ins = (pg_insert(table) if self._pg else sqlite_insert(table)).values(rows)
            at = func.coalesce(ins.excluded.last_event_at, table.c.last_event_at)
            applied = table.c.events_applied + ins.excluded.events_applied
            await conn.execute(
                ins.on_conflict_do_update(
                    index_elements=["hub"],
                    set_={"position": ins.excluded.position, "last_event_at": at, "events_applied": applied},
                )
            )

    async def insert(
        self, conn: AsyncConnection, table: Table, keys: list[str], rows: list[dict[str, Any]], _: None
    ) -> None:
        """Insert ``rows`` (every column named) unless their key exists (control rows)."""
        if rows:
            stmt = (pg_insert(table) if self._pg else sqlite_insert(table)).on_conflict_do_nothing(
                index_elements=keys
            )
            await conn.execute(stmt, rows)
