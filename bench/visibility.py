"""Command → visible in the API: register_volunteer on a fixed open-loop schedule, every tenth
followed to ``/v1/summary?min_position=`` of the version its reply returned."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field

import httpx
import nats
import nats.aio.client

from bench import payloads
from bench.baselines import provision_hub
from bench.load import percentile
from bench.reads import sqlite_url
from bench.report import Row
from bench.sections_base import TARGET_VISIBLE, Context
from bench.stack import bench_env, start_http_service, start_service, wait_for_command_subject


@dataclass
class OpenLoop:
    reply_ms: list[float] = field(default_factory=list)
    visible_ms: list[float] = field(default_factory=list)
    failures: int = 0
    elapsed: float = 0.0


async def _open_loop(
    nc: nats.aio.client.Client, http: httpx.AsyncClient, offered: float, seconds: float, run: str, offset: int
) -> OpenLoop:
    """``offered`` register_volunteer/s on a fixed schedule; every 10th is followed to the API."""
    out = OpenLoop()

    async def one(i: int) -> None:
        t0 = time.perf_counter()
        try:
            msg = await nc.request(
                "vhub.cmd.registry.register_volunteer", payloads.dumps_register(offset + i, run), timeout=60
            )
        except Exception:
            out.failures += 1
            return
        body = json.loads(msg.data)
        out.reply_ms.append((time.perf_counter() - t0) * 1000)
        if not body.get("accepted") or i % 10:
            return
        resp = await http.get("/v1/summary", params={"min_position": body["version"]})
        if resp.status_code == 200:
            out.visible_ms.append((time.perf_counter() - t0) * 1000)
        else:
            out.failures += 1

    tasks = []
    started = time.perf_counter()
    for i in range(int(offered * seconds)):
        delay = started + i / offered - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # the open-loop schedule, not synchronisation
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    out.elapsed = time.perf_counter() - started
    return out


async def visibility_rows(ctx: Context, rates: tuple[float, ...] = (100.0, 1_000.0)) -> list[Row]:
    """Command → visible in the API: at a light load first, then at the target's 1,000 cmd/s."""
    hub = "vi" + uuid.uuid4().hex[:6]
    await provision_hub(ctx.url, hub)
    env = bench_env(ctx.url, hub)
    registry = start_service("services.registry", {**env, "VHUB_HTTP_PORT": "0"}, ctx.logdir)
    ctx.rss.watch("services.registry", registry.process.pid)
    reporting, base = await start_http_service(
        "services.reporting", {**env, "VHUB_DATABASE_URL": sqlite_url("visible")}, ctx.logdir, ctx.rss
    )
    rows = []
    try:
        await wait_for_command_subject(ctx.url, "vhub.cmd.registry.register_volunteer", registry)
        nc = await nats.connect(ctx.url)
        run = str(uuid.uuid4())
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
            for k, offered in enumerate(rates):
                loop = await _open_loop(nc, http, offered, ctx.seconds, run, k * 10_000_000)
                rows.append(_visibility_row(ctx, offered, loop))
        await nc.close()
    finally:
        registry.stop()
        reporting.stop()
    return rows


def _visibility_row(ctx: Context, offered: float, loop: OpenLoop) -> Row:
    p99 = percentile(loop.visible_ms, 99)
    achieved = len(loop.reply_ms) / loop.elapsed if loop.elapsed else 0.0
    row = Row(
        ctx.label,
        f"command → visible in API, {offered:,.0f} cmd/s offered ({achieved:,.0f} answered/s)",
        p99,
        "ms p99",
        p50_ms=percentile(loop.visible_ms, 50),
        p99_ms=p99,
        baseline=percentile(loop.reply_ms, 99),
        baseline_name="command reply p99",
        higher_is_better=False,
        extra={
            "achieved_cmd_s": achieved,
            "followed": len(loop.visible_ms),
            "failures": loop.failures,
            "reply_p50_ms": percentile(loop.reply_ms, 50),
        },
    )
    if offered >= 1_000:
        row.target = TARGET_VISIBLE
        row.met = p99 <= 250 and achieved >= 0.99 * offered and not loop.failures
    return row
