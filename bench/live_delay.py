"""The live projection's own delay: events published straight to the stream at a fixed rate (open
loop), each timed to the projection commit that applied it, on SQLite and PostgreSQL.

``python -m bench.live_delay --rate 1000 [--seconds 20]`` prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import nats

from bench.reporting_bench import backends
from services.reporting.app import ReportingApp
from shared.envelope import H_MSG_ID
from shared.hosting import hosted
from shared.logging import configure_logging
from shared.natsserver import start_nats_server
from shared.settings import Settings
from shared.streams import provision
from tests.integration.reporting.campaign import generate


async def live_delay(
    settings: Settings, rate: float, seconds: float, batch_size: int = 500
) -> dict[str, Any]:
    """The live projection's own delay: from publishing an event straight to the stream (open
    loop, ``rate`` events/s of a campaign's mix, with their headers) to the commit that applied
    it, measured in one process through the projection's position listeners."""
    over = {"reporting_batch_size": batch_size}
    async with hosted(settings.model_copy(update=over), "reporting", ReportingApp) as svc:
        commits: list[tuple[float, int]] = []
        svc.projection.watch.listeners.append(lambda pos: commits.append((time.perf_counter(), pos)))
        js = svc.nc.jetstream(timeout=30)
        count = int(rate * seconds)
        log = generate(settings.hub, volunteers=count * 6 // 34 + 10, teams=count * 6 // 340 + 2, days=6)[
            :count
        ]
        sent: list[tuple[float, asyncio.Future[Any]]] = []
        started = time.perf_counter()
        for i, (subject, env) in enumerate(log):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # the open-loop schedule, not synchronisation
            headers = {**env.headers(), H_MSG_ID: env.event_id}
            sent.append(
                (time.perf_counter(), await js.publish_async(subject, env.to_bytes(), headers=headers))
            )
        acks = await asyncio.gather(*(f for _, f in sent))
        offered = len(sent) / (time.perf_counter() - started)
        last = max(a.seq for a in acks)
        deadline = time.monotonic() + 60
        while (not commits or commits[-1][1] < last) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # polling our own in-memory list, bounded by the deadline
    delays, k = [], 0
    for (t_sent, _), ack in sorted(zip(sent, acks, strict=True), key=lambda p: p[1].seq):
        while k < len(commits) and commits[k][1] < ack.seq:
            k += 1
        if k == len(commits):
            break
        delays.append((commits[k][0] - t_sent) * 1000)
    delays.sort()
    if not delays:
        return {"offered_per_s": round(offered), "applied": 0}
    return {
        "offered_per_s": round(offered),
        "applied": len(delays),
        "commits": len(commits),
        "p50_ms": round(delays[len(delays) // 2], 1),
        "p99_ms": round(delays[min(len(delays) - 1, int(len(delays) * 0.99))], 1),
        "max_ms": round(delays[-1], 1),
    }


async def run_live_delay(results: dict[str, Any], rate: float, seconds: float) -> None:
    """``results["live_delay"][backend]``: :func:`live_delay` on SQLite (and PostgreSQL when
    ``VHUB_TEST_DATABASE_URL`` is set), each on a fresh hub of a throwaway nats-server."""
    workdir = Path(tempfile.mkdtemp(prefix="vhub-rpt-live-"))
    server = start_nats_server(workdir / "nats", sync_always=False)
    nc = await nats.connect(server.url)
    out: dict[str, Any] = {}
    try:
        for name, settings in (await backends(workdir, server.url, "l")).items():
            await provision(nc.jetstream(), settings)
            out[name] = await live_delay(settings, rate, seconds)
    finally:
        await nc.drain()
        server.stop()
    results["live_delay"] = out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.live_delay")
    parser.add_argument("--rate", type=float, default=1_000.0, help="events/s offered")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    configure_logging("console", "warning")  # logs to stderr; the JSON alone on stdout
    results: dict[str, Any] = {}
    asyncio.run(run_live_delay(results, args.rate, args.seconds))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
