"""A batch's row changes as the statements that write them: pure, no connection needed.

:class:`Planner` turns :class:`~services.reporting.projections.Changes` into driver-level
statements (SQL text and positional rows, or a ``COPY`` of the provenance rows on PostgreSQL);
:class:`services.reporting.batch.BatchRows` runs them inside the batch's transaction. Kept apart so
a rebuild's fold worker (:mod:`services.reporting.fold_worker`) can plan a group in its own process
and hand back only what is to be executed.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, NamedTuple

from sqlalchemy import Date, Table

from services.reporting import models as m
from services.reporting.projections import Changes

Trail = tuple[str, str, str, date, int, int]  # (figure, province, commune, day, seq, contribution)
INDEX_COLUMNS = ("figure", "province_code", "commune_code", "day", "seq", "contribution")


class Statement(NamedTuple):
    """``sql``: an ``executemany`` of ``text`` over ``rows``; ``copy``: ``rows`` copied into the table
    named ``text`` (PostgreSQL's provenance index, columns :data:`INDEX_COLUMNS`)."""

    kind: Literal["sql", "copy"]
    text: str
    rows: list[tuple[Any, ...]]


class Planner:
    """Dialect-aware ``INSERT … ON CONFLICT`` statements (SQLite and PostgreSQL share the syntax)."""

    def __init__(self, postgres: bool) -> None:
        self._pg = postgres
        self._statements: dict[tuple[Any, ...], tuple[str, tuple[int, ...]]] = {}

    def plan(self, t: dict[str, Table], c: Changes) -> list[Statement]:
        """Every change of ``c`` into the tables ``t``: counters added, entity rows replaced."""
        out: list[Statement] = []
        figs = m.FIGURES
        zeros = (0,) * len(figs)  # map(n.get, figs, zeros): each figure or 0, without a generator
        add = self._add
        add(
            out,
            t["figures"],
            ("level", "code"),
            [(*a, *map(n.get, figs, zeros)) for a, n in c.figures.items()],
            figs,
        )
        add(
            out,
            t["daily"],
            ("day", "level", "code"),
            [(*k, *map(n.get, figs, zeros)) for k, n in c.daily.items()],
            figs,
        )
        add(out, t["focus"], ("level", "code", "focus"), [(*k, n) for k, n in c.focus.items()], ("teams",))
        add(
            out,
            t["affiliation"],
            ("level", "code", "affiliation"),
            [(*k, n) for k, n in c.affiliation.items()],
            ("volunteers",),
        )
        add(
            out,
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
            out.append(self.index(t["provenance"], c.trail))
        if c.restated:
            key = ("province_code", "day", "seq", "figure", "commune_code")
            self._write(out, t["restatement"], key, ("hub", "change", "recorded_at"), c.restated, None)
        s, put = c.state, self._replace
        put(out, t["days"], ("hub", "day"), [_row(s.days[k]) for k in c.dirty_days])
        put(out, t["volunteer"], ("volunteer_id",), [_row(s.volunteers[i]) for i in c.dirty_volunteers])
        put(out, t["team"], ("team_id",), [_row(s.teams[i]) for i in c.dirty_teams])
        put(
            out,
            t["membership"],
            ("team_id", "volunteer_id"),
            [(*k, s.memberships[k]) for k in c.dirty_memberships],
        )
        day_key = ("day", "team_id", "level", "code")
        self._write(out, t["team_day"], day_key, (), list(c.new_team_days), None)
        put(out, t["border"], ("commune_code",), [_row(b) for b in c.border.values()])
        put(out, t["duplicate"], ("volunteer_id",), [_row(s.duplicates[i]) for i in c.dirty_duplicates])
        return out

    def index(self, table: Table, trail: list[Trail]) -> Statement:
        """The provenance rows: figure codes, one row per key (contributions summed), in key order
        (neighbouring keys land on the same b-tree pages). PostgreSQL takes them by ``COPY`` (in
        the batch's transaction: the checkpoint makes them new), SQLite by one ``executemany``."""
        summed: dict[tuple[int, str, str, date, int], int] = {}
        for figure, province, commune, day, seq, n in trail:
            key = (m.TRACE_CODE[figure], province, commune, day, seq)
            summed[key] = summed.get(key, 0) + n
        rows = sorted((*k, n) for k, n in summed.items() if n)
        if self._pg:
            return Statement("copy", table.name, rows)
        out: list[Statement] = []
        self._write(out, table, INDEX_COLUMNS[:-1], INDEX_COLUMNS[-1:], rows, None)
        return out[0] if out else Statement("sql", "", [])

    def _add(
        self,
        out: list[Statement],
        table: Table,
        keys: tuple[str, ...],
        rows: list[tuple[Any, ...]],
        values: tuple[str, ...],
        keep: tuple[str, ...] = (),
    ) -> None:
        """Counters: rows of ``keys`` then ``values``; insert, or add every value column but those in
        ``keep`` to the stored row."""
        self._write(out, table, keys, values, rows, ("add", keep))

    def _replace(
        self, out: list[Statement], table: Table, keys: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        """Entity rows (every column, in the table's order): insert or replace."""
        values = tuple(c.name for c in table.columns if c.name not in keys)
        self._write(out, table, keys, values, rows, ("replace", ()), table_order=True)

    def _write(
        self,
        out: list[Statement],
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
        out.append(Statement("sql", sql, rows))

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
            return known
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
