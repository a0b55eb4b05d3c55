"""The peer's section of the table, and vhub's figures beside the peer's from the same run."""

from __future__ import annotations

import asyncio
import importlib.metadata
import uuid

from bench.reads import pg_database, pg_drop
from bench.report import Row, missing
from bench.sections_base import Context
from bench.stack import SCRATCH

CALLERS = (1, 10)
SECTION = "peer"


def _label() -> str:
    return f"eventsourcing {importlib.metadata.version('eventsourcing')}"


async def peer_rows(ctx: Context) -> list[Row]:
    try:
        from bench.peer import PostgresCountsView, SQLiteCountsView, postgres_env, sqlite_env, workload
    except ImportError:
        why = "not installed: pip install -e '.[bench]'"
        return [missing(SECTION, f"peer registrations, {n} callers", "reg/s", why=why) for n in CALLERS]
    SCRATCH.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    sqlite = sqlite_env(str(SCRATCH / f"peer-{uuid.uuid4().hex[:8]}.db"))
    out = await asyncio.to_thread(workload, sqlite, SQLiteCountsView, ctx.seconds, CALLERS)
    rows += _rows("SQLite", out)
    try:
        url, name = await pg_database()
    except (OSError, Exception) as e:
        rows.append(missing(SECTION, "peer on PostgreSQL", "reg/s", why=f"no PostgreSQL: {e}"))
        return rows
    try:
        env = postgres_env(url.replace("+asyncpg", "", 1))
        out = await asyncio.to_thread(workload, env, PostgresCountsView, ctx.seconds, CALLERS)
        rows += _rows("PostgreSQL", out)
    finally:
        await pg_drop(name)
    return rows


def _rows(db: str, out: dict[str, float]) -> list[Row]:
    rows = [
        Row(SECTION, f"{_label()} registrations, {n} callers, {db}", out[f"register@{n}"], "reg/s")
        for n in CALLERS
    ]
    rows.append(
        Row(
            SECTION,
            f"{_label()} projection, {int(out['events']):,} events, {db}",
            out["projected_ev_s"],
            "ev/s",
        )
    )
    return rows


def versus_peer(rows: list[Row]) -> list[Row]:
    """vhub's registrations/s and rebuild rate beside the peer's (the peer is the baseline)."""

    def find(prefix: str, suffix: str = "") -> Row | None:
        for r in rows:
            if r.figure.startswith(prefix) and r.figure.endswith(suffix) and r.value is not None:
                return r
        return None

    out: list[Row] = []
    for db in ("SQLite", "PostgreSQL"):
        for n in CALLERS:
            vhub = find(f"registry register_volunteer, {n} in flight")
            peer = find(f"{_label_or_none()} registrations, {n} callers, {db}")
            if vhub and peer:
                out.append(
                    Row(
                        "vhub ÷ peer",
                        f"register_volunteer @{n} (NATS, fsync'd) vs peer on {db}",
                        vhub.value,
                        "cmd/s",
                        baseline=peer.value,
                        baseline_name=f"peer, {n} callers",
                    )
                )
        vhub = find("projection rebuild", db)
        peer = find(f"{_label_or_none()} projection", db)
        if vhub and peer:
            out.append(
                Row(
                    "vhub ÷ peer",
                    f"projection rebuild vs peer's projection, {db}",
                    vhub.value,
                    "ev/s",
                    baseline=peer.value,
                    baseline_name="peer projection",
                )
            )
    return out


def _label_or_none() -> str:
    try:
        return _label()
    except importlib.metadata.PackageNotFoundError:
        return "eventsourcing (not installed)"
