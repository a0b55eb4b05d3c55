"""The rows of one batch: read the entity rows it touches, write its changes as upserts.

Called by :mod:`services.reporting.store` inside the batch's transaction; a handful of statements
per batch whatever its size (``IN`` reads, multi-row ``INSERT … ON CONFLICT`` writes).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date, Table, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import models as m
from services.reporting.projections import Changes, Loaded, wanted
from services.reporting.projections.rows import DayRow, DuplicateRow, TeamRow, VolunteerRow
from shared.events import Event

Trail = tuple[str, str, str, date, int, int]  # (figure, province, commune, day, seq, contribution)
INDEX_COLUMNS = ("figure", "province_code", "commune_code", "day", "seq", "contribution")


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
        if want.days:
            dy = t["days"]
            for row in await conn.execute(select(dy).where(dy.c.day.in_(want.days))):
                out.days[(row.hub, row.day)] = DayRow(**row._mapping)
        return out

    async def write(self, conn: AsyncConnection, t: dict[str, Table], c: Changes) -> None:
        figs = m.FIGURES
        zeros = (0,) * len(figs)  # map(n.get, figs, zeros): each figure or 0, without a generator
        await self._add(
            conn,
            t["figures"],
            ("level", "code"),
            [(*a, *map(n.get, figs, zeros)) for a, n in c.figures.items()],
            figs,
        )
        await self._add(
            conn,
            t["daily"],
            ("day", "level", "code"),
            [(*k, *map(n.get, figs, zeros)) for k, n in c.daily.items()],
            figs,
        )
        await self._add(
            conn, t["focus"], ("level", "code", "focus"), [(*k, n) for k, n in c.focus.items()], ("teams",)
        )
        await self._add(
            conn,
            t["affiliation"],
            ("level", "code", "affiliation"),
            [(*k, n) for k, n in c.affiliation.items()],
            ("volunteers",),
        )
        await self._add(
            conn,
            t["coverage"],
            ("day", "service_point_id"),
            [
                (*k, d.province_code, d.commune_code, d.requested, d.dispatched, d.check_ins, d.over_capacity)
                for k, d in c.coverage.items()
            ],
            ("province_code", "commune_code", "requested", "dispatched", "check_ins", "over_capacity"),
            keep=("province_code", "commune_code"),
        )
        if c.trail:
            await self.index(conn, t["provenance"], c.trail)
        if c.restated:
            key = ("province_code", "day", "seq", "figure", "commune_code")
            await self._write(conn, t["restatement"], key, ("hub", "change", "recorded_at"), c.restated, None)
        s = c.state
        await self._replace(conn, t["days"], ("hub", "day"), [_row(s.days[k]) for k in c.dirty_days])
        await self._replace(
            conn, t["volunteer"], ("volunteer_id",), [_row(s.volunteers[i]) for i in c.dirty_volunteers]
        )
        await self._replace(conn, t["team"], ("team_id",), [_row(s.teams[i]) for i in c.dirty_teams])
        await self._replace(
            conn,
            t["membership"],
            ("team_id", "volunteer_id"),
            [(*k, s.memberships[k]) for k in c.dirty_memberships],
        )
        day_key = ("day", "team_id", "level", "code")
        await self._write(conn, t["team_day"], day_key, (), list(c.new_team_days), None)
        await self._replace(conn, t["border"], ("commune_code",), [_row(b) for b in c.border.values()])
        await self._replace(
            conn, t["duplicate"], ("volunteer_id",), [_row(s.duplicates[i]) for i in c.dirty_duplicates]
        )

    async def index(self, conn: AsyncConnection, table: Table, trail: list[Trail]) -> None:
        """The provenance rows: figure codes, one row per key (contributions summed), in key order
        (neighbouring keys land on the same b-tree pages). PostgreSQL takes them by ``COPY`` (in
        this transaction: the checkpoint makes them new), SQLite by one ``executemany``."""
        summed: dict[tuple[int, str, str, date, int], int] = {}
        for figure, province, commune, day, seq, n in trail:
            key = (m.TRACE_CODE[figure], province, commune, day, seq)
            summed[key] = summed.get(key, 0) + n
        rows = sorted((*k, n) for k, n in summed.items() if n)
        if self._pg:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection  # asyncpg's connection, inside our transaction
            await driver.copy_records_to_table(table.name, records=rows, columns=list(INDEX_COLUMNS))
        else:
            await self._write(conn, table, INDEX_COLUMNS[:-1], INDEX_COLUMNS[-1:], rows, None)

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

    async def _add(
        self,
        conn: AsyncConnection,
        table: Table,
        keys: tuple[str, ...],
        rows: list[tuple[Any, ...]],
        values: tuple[str, ...],
        keep: tuple[str, ...] = (),
    ) -> None:
        """Counters: rows of ``keys`` then ``values``; insert, or add every value column but those in
        ``keep`` to the stored row."""
        await self._write(conn, table, keys, values, rows, ("add", keep))

    async def _replace(
        self, conn: AsyncConnection, table: Table, keys: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        """Entity rows (every column, in the table's order): insert or replace."""
        values = tuple(c.name for c in table.columns if c.name not in keys)
        await self._write(conn, table, keys, values, rows, ("replace", ()), table_order=True)

    async def _write(
        self,
        conn: AsyncConnection,
        table: Table,
        keys: tuple[str, ...],
        values: tuple[str, ...],
        rows: list[tuple[Any, ...]],
        how: tuple[str, tuple[str, ...]] | None,
        *,
        table_order: bool = False,
    ) -> None:
        """One driver-level ``executemany`` of positional rows (every column, in table order):
        no per-row parameter processing in SQLAlchemy, which cost as much as the fold."""
        if not rows:
            return
        cols = tuple(c.name for c in table.columns) if table_order else keys + values
        sql, dates = self._statement(table, cols, keys, how)
        for i in dates:  # SQLite keeps dates as ISO text, as SQLAlchemy's Date type writes them
            # a batch's rows share a few days: each is formatted once (per row, it showed in profiles)
            text = {v: _iso(v) for v in {r[i] for r in rows}}
            rows = [(*r[:i], text[r[i]], *r[i + 1 :]) for r in rows]
        await conn.exec_driver_sql(sql, rows)  # a list of tuples: executemany

    def _statement(
        self,
        table: Table,
        cols: tuple[str, ...],
        keys: tuple[str, ...],
        how: tuple[str, tuple[str, ...]] | None,
    ) -> tuple[str, tuple[int, ...]]:
        """``INSERT … ON CONFLICT`` for ``table`` in this dialect, built once per shape: add to
        counters, replace rows, or (``how`` None) insert if absent; and which columns are dates."""
        shape = (table.name, cols, keys, how)
        known = self._statements.get(shape)
        if known is not None:
            return known  # type: ignore[no-any-return]  # the cache holds these tuples
        marks = ", ".join(f"${i}" if self._pg else "?" for i in range(1, len(cols) + 1))
        name = f'"{table.name}"'
        names = ", ".join(f'"{c}"' for c in cols)
        # identifiers from our own table definitions, values only as parameters
        sql = f"INSERT INTO {name} ({names}) VALUES ({marks}) "  # noqa: S608
        target = ", ".join(f'"{k}"' for k in keys)
        if how is None:
            sql += f"ON CONFLICT ({target}) DO NOTHING"
        else:
            kind, keep = how
            sets = [
                f'"{c}" = {name}."{c}" + excluded."{c}"' if kind == "add" else f'"{c}" = excluded."{c}"'
                for c in cols
                if c not in keys and c not in keep
            ]
            sql += f"ON CONFLICT ({target}) DO UPDATE SET {', '.join(sets)}"
        dates = tuple(i for i, c in enumerate(cols) if not self._pg and isinstance(table.c[c].type, Date))
        self._statements[shape] = (sql, dates)
        return sql, dates


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _row(obj: Any) -> tuple[Any, ...]:
    """An entity row's fields in declaration order (= the table's column order)."""
    return tuple(getattr(obj, name) for name in obj.__slots__)
