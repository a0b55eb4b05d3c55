"""Engines for the read models: SQLite (embedded default, WAL) or PostgreSQL (asyncpg).

Writers take the database's write lock at BEGIN on SQLite (``BEGIN IMMEDIATE``) so a batch never
fails half-way on a lock upgrade; readers see one snapshot per request (WAL on SQLite,
REPEATABLE READ on PostgreSQL), so a response's freshness matches its figures.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_MS = 60_000


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs (as CI exports them) and use asyncpg."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, writer: bool, pool_size: int = 20) -> AsyncEngine:
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        opts: dict[str, Any] = {} if writer else {"isolation_level": "REPEATABLE READ"}
        return create_async_engine(
            url, pool_size=pool_size if not writer else 2, max_overflow=5, pool_pre_ping=False, **opts
        )
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL: a power cut may lose the last commits, data and checkpoint together,
        # and the consumer redelivers them. A process crash loses nothing.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine
