"""What provenance costs: rebuild rate and read-model size with and without the index, at the same
event count (a campaign-shaped log, as ``bench.reporting_bench`` fills it), SQLite and PostgreSQL.

``python -m bench.provenance_cost [--events N] [--repeats R]`` prints JSON. Each rebuild goes into a
fresh database; the size is that of the rebuilt colour's tables (indexes included). PostgreSQL
comes from ``VHUB_TEST_DATABASE_URL`` (skipped when unset). Rounds alternate off/on (noisy machine).
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

import nats
from nats.js import JetStreamContext
from sqlalchemy import func, select, text

from bench.reporting_bench import _fill
from services.reporting import models as m
from services.reporting.db import make_engine
from services.reporting.rebuild import rebuild
from services.reporting.store import ReportingStore
from shared.logging import configure_logging
from shared.natsserver import start_nats_server
from shared.settings import load_settings
from shared.streams import provision
from tests.support.postgres import create_database

PG_SIZE = (
    "SELECT coalesce(sum(pg_total_relation_size(oid)), 0) FROM pg_class "
    "WHERE relkind = 'r' AND relname LIKE 'rpt\\_%\\_\\_' || :colour"
)


async def _one(js: JetStreamContext, stream: str, url: str, total: int, provenance: bool) -> dict[str, float]:
    engine = make_engine(url, writer=True)
    try:
        store = ReportingStore(engine, provenance=provenance)
        await store.create_schema()
        started = time.perf_counter()
        at = await rebuild(js, store, stream=stream, batch_size=1_000)
        seconds = time.perf_counter() - started
        async with engine.begin() as conn:
            index = m.TABLES[at.colour]["provenance"]
            rows = int((await conn.execute(select(func.count()).select_from(index))).scalar_one())
            if engine.dialect.name == "postgresql":
                size = int((await conn.execute(text(PG_SIZE), {"colour": at.colour})).scalar_one())
            else:  # the database file and its write-ahead log: both colours and the control rows
                size = _file_size(url.removeprefix("sqlite+aiosqlite:///"))
    finally:
        await engine.dispose()
    return {"rate": total / seconds, "bytes": float(size), "index_rows": float(rows)}


def _file_size(path: str) -> int:
    return sum(os.path.getsize(f) for f in (path, f"{path}-wal") if os.path.exists(f))


async def run(events: int, repeats: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="vhub-prov-bench-"))
    server = start_nats_server(workdir / "nats", sync_always=False)
    nc = await nats.connect(server.url)
    js = nc.jetstream(timeout=30)
    out: dict[str, Any] = {"events": events, "machine_cpus": os.cpu_count(), "load_avg": os.getloadavg()[0]}
    try:
        settings = load_settings(hub="bprov", nats_url=server.url, log_level="warning")
        await provision(js, settings)
        total = await _fill(js, settings, events)
        out["events"] = total
        pg = os.environ.get("VHUB_TEST_DATABASE_URL")
        for name in ("sqlite", "postgres"):
            if name == "postgres" and not pg:
                continue
            runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
            for n in range(repeats):
                for provenance in (False, True):
                    url = (
                        f"sqlite+aiosqlite:///{workdir / f'{name}-{provenance}-{n}.db'}"
                        if name == "sqlite"
                        else await create_database(pg or "")
                    )
                    runs[provenance].append(await _one(js, settings.event_stream, url, total, provenance))
            med = {p: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for p, rs in runs.items()}
            out[name] = {
                "rebuild_per_s_without": round(med[False]["rate"]),
                "rebuild_per_s_with": round(med[True]["rate"]),
                "rate_ratio": round(med[True]["rate"] / med[False]["rate"], 3),
                "size_mb_without": round(med[False]["bytes"] / 1e6, 2),
                "size_mb_with": round(med[True]["bytes"] / 1e6, 2),
                "size_ratio": round(med[True]["bytes"] / med[False]["bytes"], 3),
                "index_rows": int(med[True]["index_rows"]),
            }
    finally:
        await nc.close()
        server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    configure_logging("json", "warning")
    print(json.dumps(asyncio.run(run(args.events, args.repeats)), indent=2))


if __name__ == "__main__":
    main()
