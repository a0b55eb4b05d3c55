"""Reporting benchmark: projection catch-up on 100,000 events (SQLite and PostgreSQL) beside the
raw pull-consumer rate measured in the same run, and API latency under 20 concurrent readers.

``python -m bench.reporting_bench [--events N]`` prints JSON; ``make bench`` calls :func:`run`.
PostgreSQL comes from ``VHUB_TEST_DATABASE_URL`` (skipped when unset).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.reporting.app import ReportingApp
from services.reporting.db import make_engine
from services.reporting.rebuild import rebuild
from services.reporting.store import ReportingStore
from shared.envelope import H_MSG_ID
from shared.hosting import hosted
from shared.logging import configure_logging
from shared.natsserver import start_nats_server
from shared.settings import Settings, load_settings
from shared.streams import provision
from tests.integration.reporting.campaign import generate
from tests.support.postgres import create_database

ROOT = Path(__file__).resolve().parents[1]
READERS = 20


async def backends(workdir: Path, nats_url: str, prefix: str) -> dict[str, Settings]:
    """Reporting settings on SQLite, and on PostgreSQL when ``VHUB_TEST_DATABASE_URL`` is set
    (a fresh database), each on a hub of its own."""
    urls = {"sqlite": f"sqlite+aiosqlite:///{workdir / f'{prefix}rpt.db'}"}
    pg = os.environ.get("VHUB_TEST_DATABASE_URL")
    if pg:
        urls["postgres"] = await create_database(pg)
    return {
        name: load_settings(
            hub=f"{prefix}{name[:2]}{os.getpid() % 10_000}",
            nats_url=nats_url,
            database_url=url,
            http_port=0,
            log_level="warning",
        )
        for name, url in urls.items()
    }


async def _fill(js: JetStreamContext, settings: Settings, events: int) -> int:
    log = generate(settings.hub, volunteers=events * 6 // 34, teams=events * 6 // 340, days=6)
    log = log[:events]
    for i in range(0, len(log), 500):
        await asyncio.gather(
            *(
                js.publish(
                    subject,
                    env.to_bytes(),
                    stream=settings.event_stream,
                    headers={**env.headers(), H_MSG_ID: env.event_id},
                )
                for subject, env in log[i : i + 500]
            )
        )
    return len(log)


async def _raw_rate(js: JetStreamContext, stream: str, total: int, *, ack: bool) -> float:
    """Messages/s a bare pull consumer gets through (fetch 1,000; ack-all or no acks)."""
    config = ConsumerConfig(
        ack_policy=AckPolicy.ALL if ack else AckPolicy.NONE,
        deliver_policy=DeliverPolicy.ALL,
        max_ack_pending=1_000 if ack else -1,
    )
    sub = await js.pull_subscribe("vhub.evt.>", stream=stream, config=config)
    started, seen = time.perf_counter(), 0
    while seen < total:
        msgs = await sub.fetch(1_000, timeout=5)
        seen += len(msgs)
        if ack:
            await msgs[-1].ack()
    rate = seen / (time.perf_counter() - started)
    await sub.unsubscribe()
    return rate


async def _live_catch_up(settings: Settings, total: int) -> float:
    started = time.perf_counter()
    async with hosted(
        settings.model_copy(update={"reporting_batch_size": 1_000}), "reporting", ReportingApp
    ) as svc:
        while (await svc.store.position()).position < total:  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.05)
        rate = total / (time.perf_counter() - started)
    return rate


async def _rebuild_rate(js: JetStreamContext, settings: Settings, total: int) -> float:
    engine = make_engine(settings.database_url, writer=True)
    started = time.perf_counter()
    await rebuild(js, ReportingStore(engine), stream=settings.read_stream, batch_size=1_000)
    rate = total / (time.perf_counter() - started)
    await engine.dispose()
    return rate


async def _api_latency(settings: Settings, seconds: float) -> dict[str, Any]:
    """p50/p99 of /v1/summary and /v1/provinces with 20 concurrent readers, served by a real
    ``python -m services.reporting`` process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {
        **os.environ,
        "VHUB_HUB": settings.hub,
        "VHUB_NATS_URL": settings.nats_url,
        "VHUB_DATABASE_URL": settings.database_url,
        "VHUB_HTTP_PORT": str(port),
        "VHUB_LOG_LEVEL": "warning",
    }
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.reporting", cwd=ROOT, env=env)
    out: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for _ in range(200):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)  # waiting for the process to bind
            for path in ("/v1/summary", "/v1/provinces"):
                times: list[float] = []
                end = time.perf_counter() + seconds

                async def reader(path: str = path, times: list[float] = times, end: float = end) -> None:
                    while time.perf_counter() < end:
                        t0 = time.perf_counter()
                        resp = await http.get(path)
                        times.append(time.perf_counter() - t0)
                        assert resp.status_code == 200

                await asyncio.gather(*(reader() for _ in range(READERS)))
                times.sort()
                out[path] = {
                    "requests": len(times),
                    "rps": round(len(times) / seconds),
                    "p50_ms": round(times[len(times) // 2] * 1000, 1),
                    "p99_ms": round(times[int(len(times) * 0.99)] * 1000, 1),
                }
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 15)
    return out


async def run(
    results: dict[str, Any], events: int = 100_000, api_seconds: float = 10.0, repeats: int = 3
) -> None:
    """Fill ``results["reporting"]`` (called by ``python -m bench``)."""
    workdir = Path(tempfile.mkdtemp(prefix="vhub-rpt-bench-"))
    server = start_nats_server(workdir / "nats", sync_always=False)
    nc = await nats.connect(server.url)
    js = nc.jetstream(timeout=30)
    out: dict[str, Any] = {"events": events, "batch": 1_000, "machine_cpus": os.cpu_count()}
    try:
        for name, settings in (await backends(workdir, server.url, "b")).items():
            await provision(js, settings)
            total = await _fill(js, settings, events)
            # The machine is shared and noisy: interleave baseline and projection, keep medians.
            rounds: dict[str, list[float]] = {"raw_ack": [], "raw_noack": [], "rebuild": []}
            rounds["live"] = [await _live_catch_up(settings, total)]
            for _ in range(repeats):
                rounds["raw_ack"].append(await _raw_rate(js, settings.event_stream, total, ack=True))
                rounds["raw_noack"].append(await _raw_rate(js, settings.event_stream, total, ack=False))
                rounds["rebuild"].append(await _rebuild_rate(js, settings, total))
            med = {k: statistics.median(v) for k, v in rounds.items()}
            out[name] = {
                "raw_pull_ack_all_per_s": round(med["raw_ack"]),
                "raw_pull_no_ack_per_s": round(med["raw_noack"]),
                "live_catch_up_per_s": round(med["live"]),
                "rebuild_per_s": round(med["rebuild"]),
                "live_vs_raw_ack_all": round(med["live"] / med["raw_ack"], 3),
                "rebuild_vs_raw_no_ack": round(med["rebuild"] / med["raw_noack"], 3),
                "rounds": {k: [round(x) for x in v] for k, v in rounds.items()},
                "api": await _api_latency(settings, api_seconds),
            }
    finally:
        await nc.drain()
        server.stop()
    results["reporting"] = out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reporting_bench")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--api-seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of baseline + rebuild")
    args = parser.parse_args()
    configure_logging("console", "warning")  # logs to stderr; the JSON alone on stdout
    results: dict[str, Any] = {}
    asyncio.run(run(results, args.events, args.api_seconds, args.repeats))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
