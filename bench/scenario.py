"""The whole campaign scenario, end to end, through real service processes."""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import Any

import psutil

from bench.baselines import provision_hub
from bench.profiles import profiled
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
    profiles: dict[str, dict[str, Any]] = {}
    cpu = PhaseCpu()
    try:
        urls = {}
        for name in ("registry", "dispatch", "reporting"):
            proc, url = await start_http_service(f"services.{name}", env, ctx.logdir, ctx.rss)
            procs.append(proc)
            urls[name] = url
            cpu.pids[name] = proc.process.pid
        if ctx.nats_pid is not None:
            cpu.pids["nats"] = ctx.nats_pid
        async with contextlib.AsyncExitStack() as spies:
            for name, pid in cpu.pids.items():  # --profile: each service and the load generator
                if name != "nats":
                    out = profiles.setdefault(name, {})
                    await spies.enter_async_context(profiled(ctx.profile, f"campaign-{name}", pid, out))
            report = await run_scenario(
                ctx.url,
                urls["reporting"],
                "campaign",
                ctx.campaign_scale,
                seed=2025,
                concurrency=128,
                console=ctx.console,
                wait_s=900,
                on_phase=cpu.mark,
            )
        cpu.mark("")
    finally:
        for proc in procs:
            proc.stop()
    ctx.console.print(report.table())  # the ground truth of the run, beside its timing
    phases: dict[str, dict[str, Any]] = {}
    for p in report.phases:  # each phase's time, rate and CPU per command of every process
        used = cpu.used.get(p.name, {})
        per_cmd = {k: round(v * 1e6 / p.commands) for k, v in used.items()} if p.commands else {}
        phases[p.name] = {"commands": p.commands, "s": round(p.seconds, 2), "cmd_s": round(p.rate, 1)}
        phases[p.name]["cpu_us_per_cmd"] = per_cmd
        cpus = " ".join(f"{k} {v:,}" for k, v in per_cmd.items())
        ctx.console.print(
            f"  {p.name:<18} {p.commands:>7,} cmds {p.seconds:6.1f} s {p.rate:6,.0f}/s  CPU us/cmd: {cpus}"
        )
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
            "phases": phases,
            **{f"profile_{k}": v["profile"] for k, v in profiles.items() if "profile" in v},
        },
    )
    row.met = report.ok and (report.seconds <= 300 if ctx.campaign_scale >= 1.0 else None)
    if not report.ok:
        row.status = f"ground truth NOT ok: {', '.join(bad[:3])}"
    return [row]


class PhaseCpu:
    """CPU seconds (user + system) each process spent in each phase of the run (told as each
    phase starts; ``""`` ends the last). The load generator is this process."""

    def __init__(self) -> None:
        self.pids: dict[str, int] = {"load": os.getpid()}
        self.used: dict[str, dict[str, float]] = {}
        self._phase: str | None = None
        self._at: dict[str, float] = {}

    def mark(self, phase: str) -> None:
        now = {name: _cpu(pid) for name, pid in self.pids.items()}
        if self._phase is not None:
            self.used[self._phase] = {k: now[k] - self._at.get(k, now[k]) for k in now}
        self._phase, self._at = phase or None, now


def _cpu(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)
