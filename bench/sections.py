"""Each section of the table: measures a vhub figure against its baseline, or says why it cannot."""

from __future__ import annotations

from bench.baselines import Baselines
from bench.report import NOT_YET_BUILT, Row, missing
from bench.sections_base import (
    RSS_LIMIT_MB,
    TARGET_CAMPAIGN,
    TARGET_DISPATCH,
    TARGET_READ,
    TARGET_REBUILD,
    TARGET_REGISTRY,
    TARGET_RSS,
    TARGET_VISIBLE,
    Context,
)
from bench.stack import module_exists

MB = 2**20
__all__ = ["Context"]


def baseline_rows(label: str, base: Baselines) -> list[Row]:
    rows = [
        Row(
            label,
            f"bare nats-py handler + OCC append, {n} in flight",
            r.rate,
            "cmd/s",
            p50_ms=r.p50,
            p99_ms=r.p99,
            extra={"errors": r.errors, "refused": r.refused},
        )
        for n, r in base.handler.items()
    ]
    rows += [
        Row(label, f"raw atomic batch of 3 events (OCC + Msg-Id), {n} in flight", rate, "batch/s")
        for n, rate in base.atomic_batch.items()
    ]
    rows.append(Row(label, "raw js.publish_async (same events)", base.publish_async_rate, "ev/s"))
    rows.append(Row(label, "raw pull consume, fetch 500 + ack-all", base.pull_ack_all_rate, "ev/s"))
    rows.append(Row(label, "raw pull consume, fetch 500 + ack each", base.pull_ack_each_rate, "ev/s"))
    rows.append(Row(label, "raw pull consume, fetch 1,000, no ack", base.pull_no_ack_rate, "ev/s"))
    return rows


def _service_missing(ctx: Context, module: str) -> bool:
    return not module_exists(f"{module}.__main__")


async def registry(ctx: Context) -> list[Row]:
    if _service_missing(ctx, "services.registry"):
        return [
            missing(
                ctx.label,
                f"registry register_volunteer, {n} in flight",
                "cmd/s",
                TARGET_REGISTRY if n == 100 else "",
            )
            for n in (1, 10, 100)
        ]
    from bench.commands import registry_rows
    from bench.sealing import sealing_rows

    return [*await registry_rows(ctx), *await sealing_rows(ctx)]


async def dispatch(ctx: Context) -> list[Row]:
    if _service_missing(ctx, "services.dispatch") or _service_missing(ctx, "services.registry"):
        return [
            missing(
                ctx.label,
                f"dispatch dispatch_team, {n} in flight",
                "cmd/s",
                TARGET_DISPATCH if n == 100 else "",
            )
            for n in (1, 10, 100)
        ]
    from bench.commands import dispatch_rows

    return await dispatch_rows(ctx)


async def visibility(ctx: Context) -> list[Row]:
    if _service_missing(ctx, "services.reporting") or _service_missing(ctx, "services.registry"):
        return [missing(ctx.label, "command → visible in API at 1,000 cmd/s offered", "ms", TARGET_VISIBLE)]
    from bench.visibility import visibility_rows

    return await visibility_rows(ctx)


async def rebuild(ctx: Context) -> list[Row]:
    if _service_missing(ctx, "services.reporting"):
        return [
            missing(
                ctx.label, f"projection rebuild, {ctx.rebuild_events:,} events, {db}", "ev/s", TARGET_REBUILD
            )
            for db in ("SQLite", "PostgreSQL")
        ]
    from bench.reads import rebuild_rows

    return await rebuild_rows(ctx)


async def read_api(ctx: Context) -> list[Row]:
    if _service_missing(ctx, "services.reporting"):
        return [
            missing(ctx.label, f"read API {path}, 50 concurrent readers", "req/s", TARGET_READ)
            for path in ("/v1/summary", "/v1/provinces")
        ]
    from bench.reads import read_api_rows

    return await read_api_rows(ctx)


async def campaign(ctx: Context) -> list[Row]:
    needed = ("services.registry", "services.dispatch", "services.reporting")
    if any(_service_missing(ctx, m) for m in needed):
        return [
            missing(
                ctx.label, f"campaign scenario, scale {ctx.campaign_scale}, end to end", "s", TARGET_CAMPAIGN
            )
        ]
    from bench.scenario import campaign_rows

    return await campaign_rows(ctx)


async def peer(ctx: Context) -> list[Row]:
    from bench.peer_rows import peer_rows

    return await peer_rows(ctx)


def rss_rows(peaks: dict[str, int]) -> list[Row]:
    rows = []
    for name, peak in sorted(peaks.items()):
        is_service = name.startswith("services.")
        mb = peak / MB
        rows.append(
            Row(
                "peak RSS",
                name,
                mb,
                "MB",
                target=TARGET_RSS if is_service else "",
                higher_is_better=False,
                met=(mb < RSS_LIMIT_MB) if is_service else None,
            )
        )
    for module in ("services.registry", "services.dispatch", "services.reporting"):
        if not any(k.startswith(module) for k in peaks):
            why = NOT_YET_BUILT if not module_exists(f"{module}.__main__") else "not run"
            rows.append(missing("peak RSS", module, "MB", TARGET_RSS, why))
    return rows
