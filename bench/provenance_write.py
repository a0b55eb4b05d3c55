"""The provenance index's own write cost and size, without the rest of a rebuild (whose decode and
fold dominate, so its rate on a loaded machine hides the index): the trail of a generated campaign,
folded in batches of 1,000 events, written into a fresh table per round, one transaction per batch,
in the v1 layout (the figure's name in every key, a rowid table on SQLite, ``executemany`` with
``ON CONFLICT DO NOTHING`` on both) and the v2 one (``BatchRows``: figure codes, ``WITHOUT ROWID``
on SQLite, ``COPY`` on PostgreSQL), alternated.

``python -m bench.provenance_write [--volunteers N] [--repeats R]`` prints JSON; PostgreSQL from
``VHUB_TEST_DATABASE_URL`` (skipped when unset).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Date, Integer, MetaData, String, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting import models as m
from services.reporting.batch import BatchRows, Trail
from services.reporting.db import make_engine
from services.reporting.projections import Loaded, fold
from shared.upcast import decode
from tests.integration.reporting.campaign import generate
from tests.support.postgres import create_database

V1 = Table(  # rpt_provenance as it was (text figure, rowid table)
    "rpt_provenance_v1",
    MetaData(),
    Column("figure", String, primary_key=True),
    Column("province_code", String, primary_key=True),
    Column("commune_code", String, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("contribution", Integer),
)
V2 = m.TABLES["blue"]["provenance"]


def batches(volunteers: int) -> list[list[Trail]]:
    """The trail of each 1,000-event batch of a generated campaign."""
    events = [decode(env) for _, env in generate("bench", volunteers=volunteers, teams=volunteers // 10)]
    loaded, out = Loaded(), []
    for start in range(0, len(events), 1_000):
        part = events[start : start + 1_000]
        origins = [(start + i + 1, "bench", None) for i in range(len(part))]
        trail = fold(part, loaded, origins).trail
        if trail:
            out.append(trail)
    return out


async def _v1(engine: AsyncEngine, trail: list[Trail]) -> None:
    pg = engine.dialect.name == "postgresql"
    cols = [c.name for c in V1.columns]
    marks = ", ".join(f"${i}" if pg else "?" for i in range(1, len(cols) + 1))
    keys = ", ".join(cols[:-1])
    sql = f"INSERT INTO {V1.name} ({', '.join(cols)}) VALUES ({marks}) ON CONFLICT ({keys}) DO NOTHING"  # noqa: S608  # our names
    rows = [(f, p, c, d if pg else d.isoformat(), s, n) for f, p, c, d, s, n in trail]
    async with engine.begin() as conn:
        await conn.exec_driver_sql(sql, rows)


async def _v2(engine: AsyncEngine, trail: list[Trail]) -> None:
    writer = BatchRows(postgres=engine.dialect.name == "postgresql")
    async with engine.begin() as conn:
        await writer.index(conn, V2, trail)  # the store's own index write


async def _round(url: str, layout: str, parts: list[list[Trail]]) -> dict[str, float]:
    engine = make_engine(url, writer=True)
    table = V1 if layout == "v1" else V2
    write = _v1 if layout == "v1" else _v2
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: table.create(sync))
        started = time.perf_counter()
        for trail in parts:
            await write(engine, trail)
        seconds = time.perf_counter() - started
        size = 0
        if engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                query = text(f"SELECT pg_total_relation_size('{table.name}')")
                size = int((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()
    if not size:  # SQLite: the database file and its write-ahead log (one table in it)
        path = url.removeprefix("sqlite+aiosqlite:///")
        size = _file_size(path)
    rows = sum(len(p) for p in parts)
    return {"rows_per_s": rows / seconds, "mb": int(size) / 1e6}


def _file_size(path: str) -> int:
    return sum(os.path.getsize(f) for f in (path, f"{path}-wal") if os.path.exists(f))


async def run(volunteers: int, repeats: int) -> dict[str, Any]:
    parts = batches(volunteers)
    workdir = Path(tempfile.mkdtemp(prefix="vhub-prov-write-"))
    out: dict[str, Any] = {
        "rows": sum(len(p) for p in parts),
        "batches": len(parts),
        "load_avg": os.getloadavg()[0],
    }
    pg = os.environ.get("VHUB_TEST_DATABASE_URL")
    for name in ("sqlite", "postgres"):
        if name == "postgres" and not pg:
            continue
        runs: dict[str, list[dict[str, float]]] = {"v1": [], "v2": []}
        for n in range(repeats):
            for layout in ("v1", "v2"):
                url = (
                    f"sqlite+aiosqlite:///{workdir / f'{layout}-{n}.db'}"
                    if name == "sqlite"
                    else await create_database(pg or "")
                )
                runs[layout].append(await _round(url, layout, parts))
        med = {k: {f: statistics.median(r[f] for r in rs) for f in rs[0]} for k, rs in runs.items()}
        out[name] = {
            "v1_rows_per_s": round(med["v1"]["rows_per_s"]),
            "v2_rows_per_s": round(med["v2"]["rows_per_s"]),
            "rate_ratio": round(med["v2"]["rows_per_s"] / med["v1"]["rows_per_s"], 2),
            "v1_mb": round(med["v1"]["mb"], 2),
            "v2_mb": round(med["v2"]["mb"], 2),
            "size_ratio": round(med["v2"]["mb"] / med["v1"]["mb"], 2),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--volunteers", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.volunteers, args.repeats)), indent=2))


if __name__ == "__main__":
    main()
