"""Commands/s and latency through the real registry and dispatch processes, N in flight."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from datetime import date, timedelta
from typing import Any

import nats
import nats.aio.client

from bench import payloads
from bench.baselines import provision_hub
from bench.command_rows import command_rows, watched
from bench.load import closed_loop
from bench.profiles import profiled
from bench.report import Row
from bench.sections_base import TARGET_DISPATCH, TARGET_REGISTRY, Context
from bench.stack import (
    ServiceProcess,
    bench_env,
    start_http_service,
    start_service,
    wait_for_command_subject,
)
from shared.refdata import communes_of

# (in flight, replicas): the closed-loop steps; the last shares the same load across two replicas
# (on 2 cores this shows contention rather than scaling, and is reported as it is)
STEPS = ((1, 1), (10, 1), (100, 1), (100, 2))


async def start_registry(ctx: Context, hub: str) -> ServiceProcess:
    env = bench_env(ctx.url, hub, VHUB_HTTP_PORT="0", VHUB_INSTANCE="1")
    proc = start_service("services.registry", env, ctx.logdir)
    ctx.rss.watch("services.registry", proc.process.pid)
    await wait_for_command_subject(ctx.url, "vhub.cmd.registry.register_volunteer", proc)
    return proc


async def registry_rows(ctx: Context) -> list[Row]:
    hub = "br" + uuid.uuid4().hex[:6]
    await provision_hub(ctx.url, hub)
    procs = [await start_registry(ctx, hub)]
    run = str(uuid.uuid4())
    rows: list[Row] = []
    nc = await nats.connect(ctx.url)
    try:
        for n, replicas in STEPS:
            if replicas > len(procs):  # the same load shared by one more replica (its queue group)
                env = bench_env(ctx.url, hub, VHUB_INSTANCE=str(replicas))
                # its HTTP port opens after its index has replayed and its commands are served
                proc, _ = await start_http_service("services.registry", env, ctx.logdir, ctx.rss)
                procs.append(proc)
            extra: dict[str, Any] = {}
            async with profiled(ctx.profile and n == 100, "registry", procs[0].process.pid, extra):
                r = await closed_loop(
                    nc,
                    "vhub.cmd.registry.register_volunteer",
                    payloads.register_factory(run, offset=(len(str(n)) + replicas) * 10**7),  # no wrap
                    in_flight=n,
                    seconds=ctx.seconds,
                    check=payloads.refusal_code,
                    cpu_of=watched(ctx, procs),
                )
            row, *cpu = command_rows(ctx, "registry register_volunteer", n, r, extra, replicas)
            if (n, replicas) == (100, 1):
                row.target = TARGET_REGISTRY
                row.met = bool(row.ratio and row.ratio >= 0.6 and r.p99 <= 1.5 * ctx.base.handler[n].p99)
            rows += [row, *cpu]
            if n in ctx.base.atomic_batch:  # the same figure beside the ceiling of its shape
                rows.append(
                    Row(
                        ctx.label,
                        f"  … the same, beside atomic 3-event batches @{n}",
                        r.rate,
                        "cmd/s",
                        baseline=ctx.base.atomic_batch[n],
                        baseline_name=f"atomic batch @{n}",
                    )
                )
    finally:
        await nc.close()
        for proc in procs:
            proc.stop()
    return rows


async def _setup(
    nc: nats.aio.client.Client, subject: str, bodies: list[dict[str, object]], concurrency: int = 64
) -> list[str]:
    """Send ``bodies`` (bounded concurrency); the aggregate ids, in order; refusals raise."""
    slots = asyncio.Semaphore(concurrency)

    async def one(body: dict[str, object]) -> str:
        async with slots:
            reply = json.loads((await nc.request(subject, json.dumps(body).encode(), timeout=30)).data)
        if not reply.get("accepted"):
            raise RuntimeError(f"{subject} refused: {reply}")
        return str(reply["aggregate_id"])

    return list(await asyncio.gather(*(one(b) for b in bodies)))


def _shift(day_slot: int) -> tuple[str, str]:
    day = date(2025, 7, 1) + timedelta(days=(day_slot // 4) % 61)  # 31 Aug is the probe's
    hour = 7 + 3 * (day_slot % 4)
    return f"{day}T{hour:02d}:00:00+07:00", f"{day}T{hour + 2:02d}:00:00+07:00"


async def dispatch_rows(ctx: Context) -> list[Row]:
    hub = "bd" + uuid.uuid4().hex[:6]
    await provision_hub(ctx.url, hub)
    env = bench_env(ctx.url, hub)
    registry = await start_registry(ctx, hub)
    dispatch, _ = await start_http_service(
        "services.dispatch", {**env, "VHUB_INSTANCE": "1"}, ctx.logdir, ctx.rss
    )
    procs = [dispatch]
    n_teams = 300 if ctx.quick else 1_000
    rows: list[Row] = []
    nc = await nats.connect(ctx.url)
    try:
        hanoi = communes_of("01")[:20]
        points = await _setup(
            nc,
            "vhub.cmd.registry.register_service_point",
            [
                {
                    "name": f"Một cửa {c.name}",
                    "kind": "commune_one_stop",
                    "province_code": "01",
                    "commune_code": c.code,
                }
                for c in hanoi
            ],
        )
        teams = await _setup(
            nc,
            "vhub.cmd.registry.form_team",
            [
                {"name": f"Đội {i}", "province_code": "01", "focus": "admin_support", "organisation": "bench"}
                for i in range(n_teams)
            ],
        )
        await _until_known(nc, teams[-1], points[-1])
        counter = itertools.count()

        def payload(_: int) -> bytes:
            k = next(counter)
            starts, ends = _shift(k // n_teams)
            return json.dumps(
                {
                    "team_id": teams[k % n_teams],
                    "service_point_id": points[k % len(points)],
                    "starts_at": starts,
                    "ends_at": ends,
                }
            ).encode()

        for n, replicas in STEPS:
            if replicas > len(procs):
                second = {**env, "VHUB_INSTANCE": str(replicas)}
                proc, _ = await start_http_service("services.dispatch", second, ctx.logdir, ctx.rss)
                procs.append(proc)  # it serves once its facts have caught up (DispatchApp.start)
            extra: dict[str, Any] = {}
            async with profiled(
                ctx.profile and n == 100, f"dispatch-{replicas}r", dispatch.process.pid, extra
            ):
                r = await closed_loop(
                    nc,
                    "vhub.cmd.dispatch.dispatch_team",
                    payload,
                    in_flight=n,
                    seconds=ctx.seconds,
                    check=payloads.refusal_code,
                    cpu_of=watched(ctx, procs),
                )
            row, *cpu = command_rows(ctx, "dispatch dispatch_team", n, r, extra, replicas)
            if (n, replicas) == (100, 1):
                row.target = TARGET_DISPATCH
                row.met = bool(row.ratio and row.ratio >= 0.75)
            rows += [row, *cpu]
    finally:
        await nc.close()
        for proc in procs:
            proc.stop()
        registry.stop()
    return rows


async def _until_known(nc: nats.aio.client.Client, team: str, point: str, within: float = 120.0) -> None:
    """Until dispatch's projection knows the last team and point formed (it is fed in order)."""
    body = json.dumps(
        {
            "team_id": team,
            "service_point_id": point,
            "starts_at": "2025-08-31T19:00:00+07:00",
            "ends_at": "2025-08-31T21:00:00+07:00",
        }
    ).encode()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        reply = json.loads((await nc.request("vhub.cmd.dispatch.dispatch_team", body, timeout=30)).data)
        if reply.get("accepted"):
            return
        if reply.get("code") not in ("unknown_team", "unknown_service_point"):
            raise RuntimeError(f"dispatch probe refused: {reply}")
        await asyncio.sleep(0.1)  # polling another process's projection, bounded
    raise RuntimeError("dispatch did not learn the registry's teams in time")
