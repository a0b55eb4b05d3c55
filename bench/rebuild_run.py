"""One timed projection rebuild in a process of its own: the reporting service's rebuild function
(fresh tables from sequence 1, then the atomic switch), with the settings of the environment.

Usage: ``python -m bench.rebuild_run`` (VHUB_NATS_URL, VHUB_HUB, VHUB_DATABASE_URL); prints JSON
(with the CPU seconds of the process and of its fold worker).
"""

from __future__ import annotations

import asyncio
import json
import resource
import time

from services.reporting import models as m
from services.reporting.db import make_engine
from services.reporting.rebuild import rebuild
from services.reporting.store import ReportingStore
from shared.runtime import connect_nats
from shared.settings import load_settings


async def main() -> None:
    settings = load_settings()
    nc = await connect_nats(settings, "vhub-bench-rebuild")
    engine = make_engine(settings.database_url, writer=True)
    try:
        store = ReportingStore(engine, m.PROJECTION)
        await store.create_schema()
        started = time.perf_counter()
        at = await rebuild(nc.jetstream(), store, stream=settings.read_stream)
        seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
        await nc.drain()
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {  # the rebuild's process and its (reaped) fold worker, set-up included
        "main": own.ru_utime + own.ru_stime,
        "worker": children.ru_utime + children.ru_stime,
    }
    print(json.dumps({"position": at.position, "seconds": seconds, "cpu_s": cpu}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
