"""SIGKILL the reporting process at random moments while it consumes: no event lost or doubled."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from nats.aio.client import Client

from services.reporting import models as m
from services.reporting.app import ReportingApp
from services.reporting.db import make_engine
from services.reporting.store import ReportingStore
from shared.envelope import Envelope
from shared.eventstore import EventStore
from shared.hosting import hosted
from shared.settings import Settings, load_settings
from tests.integration.reporting.campaign import generate
from tests.integration.reporting.conftest import publish
from tests.integration.reporting.expected import ACTIVITY, expected_view
from tests.integration.reporting.observe import observed_view
from tests.integration.reporting.test_projection import DAYS, PROVINCES
from tests.support.postgres import create_database
from tests.support.waiting import eventually, free_port

ROOT = Path(__file__).resolve().parents[3]
KILLS = 5


def _spawn(settings: Settings, port: int, logfile: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VHUB_ENV": "test",
        "VHUB_HUB": settings.hub,
        "VHUB_NATS_URL": settings.nats_url,
        "VHUB_DATABASE_URL": settings.database_url,
        "VHUB_HTTP_PORT": str(port),
        "VHUB_LOG_FORMAT": "json",
        "VHUB_LOG_LEVEL": "info",
        "VHUB_REPORTING_BATCH_SIZE": "40",
    }
    with logfile.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.reporting"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
async def test_sigkill_at_random_moments_loses_and_doubles_nothing(
    store: EventStore, nc: Client, rsettings: Settings, tmp_path: Path
) -> None:
    """Given a producer still appending, when the reporting process is SIGKILLed five times at
    random points of its consumption and restarted, then every figure is exactly right, and the
    late reports of closed days are restated exactly once."""
    rnd = random.Random()
    seed = rnd.randrange(1000)
    log = generate(rsettings.hub, volunteers=900, teams=80, days=6, seed=seed, late_reports=4)
    cut = len(log) // 3
    last_seq: dict[str, int] = {}
    await publish(store, log[:cut], last_seq)
    producing = asyncio.create_task(publish(store, log[cut:], last_seq))
    js = nc.jetstream()
    engine = make_engine(rsettings.database_url, writer=False)
    probe = ReportingStore(engine)
    port, logfile = free_port(), tmp_path / "reporting.log"
    backlogs: list[int] = []  # events still to consume when each kill landed
    try:
        for _ in range(KILLS):
            proc = _spawn(rsettings, port, logfile)
            try:
                start_at = await _position(probe)
                target = start_at + rnd.randint(1, 400)

                async def reached(target: int = target, proc: subprocess.Popen[bytes] = proc) -> bool:
                    assert proc.poll() is None, logfile.read_text()[-2_000:]
                    return await _position(probe) >= target

                await eventually(reached, f"the process to reach {target}", 60)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
            info = await js.stream_info(rsettings.event_stream)
            backlogs.append(info.state.last_seq - await _position(probe))
        last = await producing
        proc = _spawn(rsettings, port, logfile)
        try:

            async def caught_up() -> bool:
                return await _position(probe) >= last

            await eventually(caught_up, "the last restart to catch up", 60)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                observed = await observed_view(http, PROVINCES, DAYS)
                drilled = [await _drilled(http, f, p) for p in PROVINCES for f in m.TRACED]
                restated = (await http.get("/v1/restatements", params={"page_size": 1})).json()["total"]
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0, logfile.read_text()[-2_000:]
    finally:
        await engine.dispose()
    assert observed == expected_view(log, PROVINCES, DAYS)
    assert all(summed == served for summed, served in drilled), drilled  # provenance: same transactions
    assert restated == _restatements(log), seed  # one per figure a late report changes, never twice
    assert len(backlogs) == KILLS
    assert min(backlogs) > 0, backlogs  # every kill hit a process that was still consuming


async def _drilled(http: httpx.AsyncClient, figure: str, province: str) -> tuple[int, int]:
    """The sum of a figure's indexed contributions in a province, and the figure served."""
    got = (
        await http.get("/v1/provenance", params={"figure": figure, "province": province, "page_size": 1})
    ).json()
    return int(got["sum"]), int(got["served"])


def _restatements(log: list[tuple[str, Envelope]]) -> int:
    """How many figures the late reports change (every non-zero count, and one report each)."""
    late = [env.data for _, env in log if str(env.data.get("dispatch_id", "")).startswith("late-")]
    return sum(1 + sum(1 for k in ACTIVITY if e[k]) for e in late)


async def _position(probe: ReportingStore) -> int:
    try:
        return (await probe.position()).position
    except Exception:  # the schema does not exist before the first process created it
        return 0


@pytest.mark.postgres
async def test_failed_commits_rewind_the_consumer_and_count_nothing_twice(
    store: EventStore, provisioned: Settings, pg_admin_url: str | None
) -> None:
    """Given batches acked ahead of their commit, when PostgreSQL drops the projection's
    connections mid-run (a real fault, several times), then the consumer rewinds to the
    checkpoint and every figure is still exactly right."""
    if pg_admin_url is None:
        pytest.skip("no PostgreSQL (set VHUB_TEST_DATABASE_URL)")
    url = await create_database(pg_admin_url)
    over = {"database_url": url, "http_port": 0, "reporting_batch_size": 50}
    settings = load_settings(**{**provisioned.model_dump(), **over})
    log = generate(settings.hub, volunteers=500, teams=50, days=5, seed=3)
    async with hosted(settings, "reporting", ReportingApp) as svc:
        producing = asyncio.create_task(publish(store, log))
        admin = await asyncpg.connect(pg_admin_url.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1])
        try:
            for _ in range(3):
                failures = svc.consumer.failures
                seen = await _position(svc.store)

                async def moved(seen: int = seen) -> bool:
                    return await _position(svc.store) > seen + 100

                await eventually(moved, "the projection to move on", 30)
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )

                async def failed(failures: int = failures) -> bool:
                    return svc.consumer.failures > failures or producing.done()

                await eventually(failed, "the dropped connection to fail a commit", 30)
            last = await producing

            async def caught_up() -> bool:
                return await _position(svc.store) >= last

            await eventually(caught_up, "the projection to catch up after the rewinds", 60)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{svc.server.port}") as http:
                observed = await observed_view(http, PROVINCES, DAYS)
        finally:
            await admin.close()
    assert svc.consumer.failures >= 1
    assert observed == expected_view(log, PROVINCES, DAYS)
