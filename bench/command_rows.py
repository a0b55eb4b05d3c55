"""The rows of one closed-loop step of a service's command: its rate beside the bare handler's, its
CPU per command beside the bare handler's, and the per-core estimate made from them."""

from __future__ import annotations

from typing import Any

from bench.load import LoadResult
from bench.report import Row
from bench.sections_base import Context
from bench.stack import ServiceProcess


def watched(ctx: Context, procs: list[ServiceProcess]) -> dict[str, int]:
    """The processes whose CPU a step records: every replica, and the nats-server."""
    out = {f"service-{k}": p.process.pid for k, p in enumerate(procs, 1)}
    if ctx.nats_pid is not None:
        out["nats"] = ctx.nats_pid
    return out


def command_rows(
    ctx: Context, name: str, n: int, r: LoadResult, extra: dict[str, Any], replicas: int = 1
) -> list[Row]:
    """A command-rate row beside the bare handler at the same number in flight; then the
    service's CPU per command beside the bare handler's, and at 100 in flight on one replica the
    commands/s one core would serve (service + nats-server CPU per command)."""
    bare = ctx.base.handler[n]
    services = [k for k in r.cpu_s if k.startswith("service-")]
    service_us = r.cpu_us_per_cmd(*services) if services else None
    nats_us = r.cpu_us_per_cmd("nats")
    shape = f"{n} in flight" + (f", {replicas} replicas" if replicas > 1 else "")
    rows = [
        Row(
            ctx.label,
            f"{name}, {shape}",
            r.rate,
            "cmd/s",
            baseline=bare.rate,
            baseline_name=f"bare handler @{n}",
            p50_ms=r.p50,
            p99_ms=r.p99,
            extra={
                "refused": r.refused,
                "codes": r.codes,
                "errors": r.errors,
                "cpu_us_per_cmd": {k: v * 1e6 / r.completed for k, v in r.cpu_s.items()}
                if r.completed
                else {},
                **extra,
            },
        )
    ]
    bare_us = bare.cpu_us_per_cmd("bare")
    if service_us is not None and bare_us is not None:
        rows.append(
            Row(
                ctx.label,
                f"  … CPU per command, {shape} (all replicas)",
                service_us,
                "µs",
                baseline=bare_us,
                baseline_name=f"bare handler @{n}",
                higher_is_better=False,
                extra={"nats_server_us": nats_us},
            )
        )
    if (n, replicas) == (100, 1) and service_us is not None and nats_us is not None:
        rows.append(
            Row(
                ctx.label,
                f"  … estimated {name.split()[-1]}/s per core (1 s ÷ service + nats-server CPU)",
                1e6 / (service_us + nats_us),
                "cmd/s",
                extra={"service_us": service_us, "nats_server_us": nats_us},
            )
        )
    return rows
