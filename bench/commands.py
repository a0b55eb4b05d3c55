"""Commands/s and latency through the real registry and dispatch processes, N in flight."""

from __future__ import annotations

import uuid

import nats

from bench import payloads
from bench.baselines import provision_hub
from bench.load import closed_loop
from bench.report import Row
from bench.sections_base import TARGET_REGISTRY, Context
from bench.stack import ServiceProcess, bench_env, start_service, wait_for_command_subject


async def start_registry(ctx: Context, hub: str) -> ServiceProcess:
    proc = start_service("services.registry", bench_env(ctx.url, hub, VHUB_HTTP_PORT="0"),
                         ctx.logdir)
    ctx.rss.watch("services.registry", proc.process.pid)
    await wait_for_command_subject(ctx.url, "vhub.cmd.registry.register_volunteer", proc)
    return proc


async def registry_rows(ctx: Context) -> list[Row]:
    hub = "br" + uuid.uuid4().hex[:6]
    await provision_hub(ctx.url, hub)
    proc = await start_registry(ctx, hub)
    run = str(uuid.uuid4())
    rows: list[Row] = []
    nc = await nats.connect(ctx.url)
    try:
        for n in (1, 10, 100):
            r = await closed_loop(
                nc, "vhub.cmd.registry.register_volunteer",
                payloads.register_factory(run, offset=n * 10**7),
                in_flight=n, seconds=ctx.seconds, check=payloads.refusal_code)
            base = ctx.base.handler[n]
            row = Row(ctx.label, f"registry register_volunteer, {n} in flight", r.rate, "cmd/s",
                      baseline=base.rate, baseline_name=f"bare handler @{n}",
                      p50_ms=r.p50, p99_ms=r.p99,
                      extra={"refused": r.refused, "codes": r.codes, "errors": r.errors})
            if n == 100:
                row.target = TARGET_REGISTRY
                row.met = bool(row.ratio and row.ratio >= 0.5 and r.p99 <= 50)
            rows.append(row)
    finally:
        await nc.close()
        proc.stop()
    return rows
