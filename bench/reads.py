"""The read side: projection rebuild rate and read API latency (command → visible: bench.visibility)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import nats
import nats.aio.client

from bench import eventlog
from bench.baselines import provision_hub, pull_rate
from bench.http_load import readers
from bench.profiles import profiled
from bench.report import Row
from bench.sections_base import TARGET_READ, TARGET_REBUILD, Context
from bench.stack import (
    ROOT,
    SCRATCH,
    bench_env,
    start_http_service,
)

PG_ADMIN = os.environ.get("VHUB_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def sqlite_url(name: str) -> str:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{SCRATCH / f'{name}-{uuid.uuid4().hex[:8]}.db'}"


async def pg_database() -> tuple[str, str]:
    """A fresh database on the machine's PostgreSQL: (SQLAlchemy URL, its name)."""
    import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no stubs

    name = f"vhub_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}", name


async def pg_drop(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _rebuild_once(
    ctx: Context, hub: str, db_url: str, label: str, profile: dict[str, Any]
) -> tuple[int, float, dict[str, float]]:
    """The reporting rebuild in a process of its own (bench.rebuild_run): (events, seconds, CPU
    seconds by process)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        **bench_env(ctx.url, hub),
        "VHUB_DATABASE_URL": db_url,
        "VHUB_LOG_FORMAT": "json",
        "VHUB_LOG_LEVEL": "warning",
    }
    ctx.logdir.mkdir(parents=True, exist_ok=True)
    log = ctx.logdir / f"rebuild-{label}-{uuid.uuid4().hex[:6]}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(  # noqa: ASYNC220 - one process, waited for in a thread
            [sys.executable, "-m", "bench.rebuild_run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err
        )
        ctx.rss.watch(f"rebuild ({label})", proc.pid)
        async with profiled(ctx.profile, f"rebuild-{label}", proc.pid, profile):
            out, _ = await asyncio.to_thread(proc.communicate)
    if proc.returncode != 0:
        raise RuntimeError(f"rebuild exited {proc.returncode}: {log.read_text()[-300:]}")
    body = json.loads(out.decode().strip().splitlines()[-1])
    return int(body["position"]), float(body["seconds"]), body.get("cpu_s", {})


async def rebuild_rows(ctx: Context) -> list[Row]:
    hub = "rb" + uuid.uuid4().hex[:6]
    stream = await provision_hub(ctx.url, hub)
    ctx.console.log(f"writing {ctx.rebuild_events:,} events for the rebuild")
    await eventlog.write(ctx.url, hub, ctx.rebuild_events)
    rows = []
    for db in ("SQLite", "PostgreSQL"):
        # the baseline is read right beside the rebuild, from the same log: the run-wide pull
        # baseline uses other events, minutes earlier, and a shared machine's load moves between
        nc = await nats.connect(ctx.url)
        try:
            cpu0 = time.process_time()  # this process: the pull's client (and the bench's idle rest)
            beside = await pull_rate(nc, stream, ctx.rebuild_events, ack="none")
            pull_cpu = time.process_time() - cpu0
        finally:
            await nc.close()
        figure = f"projection rebuild, {ctx.rebuild_events:,} events, {db}"
        pg_name = None
        profile: dict[str, Any] = {}
        try:
            if db == "SQLite":
                url = sqlite_url("rebuild")
            else:
                url, pg_name = await pg_database()
            applied, seconds, cpu = await _rebuild_once(ctx, hub, url, db, profile)
        except Exception as err:  # a missing PostgreSQL is a row, not a crash
            rows.append(
                Row(ctx.label, figure, None, "ev/s", target=TARGET_REBUILD, status=f"failed: {str(err)[:80]}")
            )
            continue
        finally:
            if pg_name:
                await pg_drop(pg_name)
        row = Row(
            ctx.label,
            figure,
            applied / seconds,
            "ev/s",
            baseline=beside,
            baseline_name="raw pull of this log, just before",
            target=TARGET_REBUILD,
            extra={
                "applied": applied,
                "seconds": seconds,
                "run_pull": ctx.base.pull_rate,
                # CPU per event: the rebuild's processes, and the raw pull's client beside it
                "cpu_us_per_event": {k: v * 1e6 / max(applied, 1) for k, v in cpu.items()},
                "pull_cpu_us_per_event": pull_cpu * 1e6 / max(ctx.rebuild_events, 1),
                **profile,
            },
        )
        row.met = bool(row.ratio and row.ratio >= 0.8)
        rows.append(row)
    return rows


async def read_api_rows(ctx: Context) -> list[Row]:
    hub = "ra" + uuid.uuid4().hex[:6]
    await provision_hub(ctx.url, hub)
    count = 20_000 if ctx.quick else 100_000
    await eventlog.write(ctx.url, hub, count)
    env = {**bench_env(ctx.url, hub), "VHUB_DATABASE_URL": sqlite_url("read")}
    proc, base = await start_http_service("services.reporting", env, ctx.logdir, ctx.rss)
    try:
        async with httpx.AsyncClient(timeout=120) as client:  # wait until it has caught up
            resp = await client.get(f"{base}/v1/summary", params={"min_position": count})
            deadline = time.monotonic() + 600
            while resp.status_code == 503 and time.monotonic() < deadline:
                resp = await client.get(f"{base}/v1/summary", params={"min_position": count})
            resp.raise_for_status()
        floor = await readers(f"{base}/healthz", 50, ctx.seconds)
        rows = [
            Row(
                ctx.label,
                "read API /healthz (HTTP floor), 50 readers",
                floor[0],
                "req/s",
                p50_ms=floor[1],
                p99_ms=floor[2],
            )
        ]
        for path in ("/v1/summary", "/v1/provinces"):
            profile: dict[str, Any] = {}
            async with profiled(ctx.profile, f"reporting{path.replace('/', '-')}", proc.process.pid, profile):
                rate, p50, p99, errors = await readers(f"{base}{path}", 50, ctx.seconds)
            rows.append(
                Row(
                    ctx.label,
                    f"read API {path}, 50 concurrent readers",
                    rate,
                    "req/s",
                    baseline=floor[0],
                    baseline_name="/healthz",
                    p50_ms=p50,
                    p99_ms=p99,
                    target=TARGET_READ,
                    met=bool(floor[0] and rate >= 0.5 * floor[0] and p99 <= 50),
                    extra={"errors": errors, "events": count, **profile},
                )
            )
        return rows
    finally:
        proc.stop()
