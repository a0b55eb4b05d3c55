"""What sealing personal data costs (issue 12): register_volunteer through a registry that seals
(the shipped behaviour: a data key created in the key bucket, AES-GCM per event) beside the same
command through a registry started with ``VHUB_PII_SEALING=false`` (plaintext, as before), in the
same run and on the same server. Only the ratio means anything on a loaded machine."""

from __future__ import annotations

import uuid

import nats

from bench import payloads
from bench.baselines import provision_hub
from bench.load import LoadResult, closed_loop
from bench.report import Row
from bench.sections_base import Context
from bench.stack import bench_env, start_service, wait_for_command_subject

IN_FLIGHT = (1, 10, 100)


async def _rates(ctx: Context, sealing: bool) -> dict[int, LoadResult]:
    hub = "bs" + uuid.uuid4().hex[:6]
    await provision_hub(ctx.url, hub)
    env = bench_env(ctx.url, hub, VHUB_HTTP_PORT="0", VHUB_PII_SEALING=str(sealing).lower())
    proc = start_service("services.registry", env, ctx.logdir)
    ctx.rss.watch("services.registry", proc.process.pid)
    await wait_for_command_subject(ctx.url, "vhub.cmd.registry.register_volunteer", proc)
    run = str(uuid.uuid4())
    nc = await nats.connect(ctx.url)
    out: dict[int, LoadResult] = {}
    try:
        for n in IN_FLIGHT:
            out[n] = await closed_loop(
                nc,
                "vhub.cmd.registry.register_volunteer",
                payloads.register_factory(run, offset=len(str(n)) * 10**7),
                in_flight=n,
                seconds=ctx.seconds,
                check=payloads.refusal_code,
            )
    finally:
        await nc.close()
        proc.stop()
    return out


async def sealing_rows(ctx: Context) -> list[Row]:
    """One row per number in flight: the sealed rate, with the plaintext rate as its baseline."""
    plain = await _rates(ctx, sealing=False)
    sealed = await _rates(ctx, sealing=True)
    return [
        Row(
            ctx.label,
            f"register_volunteer sealed (key + AES-GCM), {n} in flight",
            sealed[n].rate,
            "cmd/s",
            baseline=plain[n].rate,
            baseline_name=f"plaintext @{n}",
            p50_ms=sealed[n].p50,
            p99_ms=sealed[n].p99,
            extra={
                "plaintext_p50_ms": plain[n].p50,
                "plaintext_p99_ms": plain[n].p99,
                "refused": sealed[n].refused + plain[n].refused,
                "errors": sealed[n].errors + plain[n].errors,
            },
        )
        for n in IN_FLIGHT
    ]
