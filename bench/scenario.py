"""The whole campaign scenario, end to end, through real service processes."""

from __future__ import annotations

import uuid

from bench.baselines import provision_hub
from bench.reads import sqlite_url
from bench.report import Row
from bench.sections_base import TARGET_CAMPAIGN, Context
from bench.stack import ServiceProcess, bench_env, start_http_service


async def campaign_rows(ctx: Context) -> list[Row]:
    from vhub.simulate import run_scenario

    hub = "cp" + uuid.uuid4().hex[:6]
    await provision_hub(ctx.url, hub)
    env = {**bench_env(ctx.url, hub), "VHUB_DATABASE_URL": sqlite_url("campaign")}
    procs: list[ServiceProcess] = []
    try:
        urls = {}
        for name in ("registry", "dispatch", "reporting"):
            proc, url = await start_http_service(f"services.{name}", env, ctx.logdir, ctx.rss)
            procs.append(proc)
            urls[name] = url
        report = await run_scenario(
            ctx.url,
            urls["reporting"],
            "campaign",
            ctx.campaign_scale,
            seed=2025,
            concurrency=128,
            console=ctx.console,
            wait_s=900,
        )
    finally:
        for proc in procs:
            proc.stop()
    ctx.console.print(report.table())  # the ground truth of the run, beside its timing
    bad = [r.figure for r in report.rows if not r.ok]
    row = Row(
        ctx.label,
        f"campaign scenario, scale {ctx.campaign_scale}, end to end",
        report.seconds,
        "s",
        target=TARGET_CAMPAIGN,
        higher_is_better=False,
        extra={
            "commands": report.commands,
            "cmd_s": report.rate,
            "ground_truth_ok": report.ok,
            "rows_not_ok": bad,
            "refused": dict(report.tally.refused),
            "timeouts": report.tally.timeouts,
            "transient_retries": dict(report.tally.transient_codes),
            "unexpected_samples": report.tally.unexpected_samples[:10],
        },
    )
    row.met = report.ok and (report.seconds <= 300 if ctx.campaign_scale >= 1.0 else None)
    if not report.ok:
        row.status = f"ground truth NOT ok: {', '.join(bad[:3])}"
    return [row]
