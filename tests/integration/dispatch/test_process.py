"""``python -m services.dispatch`` as its own process: serves commands, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

from nats.aio.client import Client

from shared.envelope import command_subject
from shared.settings import Settings
from tests.integration.dispatch.conftest import Registry


async def test_the_module_runs_provisions_on_request_and_stops_on_sigterm(
    nc: Client, registry: Registry, provisioned: Settings
) -> None:
    """The process starts (provisioning idempotently when told), answers a command from the
    queue group, and exits cleanly on SIGTERM."""
    await registry.team("t1")
    await registry.point("p1")
    env = {
        **os.environ,
        "VHUB_HUB": provisioned.hub,
        "VHUB_NATS_URL": provisioned.nats_url,
        "VHUB_INSTANCE": "proc",
        "VHUB_HTTP_PORT": "0",
        "VHUB_LOG_FORMAT": "json",
        "VHUB_PROVISION_STREAMS": "true",
        "VHUB_CLOCK": "2025-07-10T18:00:00+07:00",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.dispatch", env=env, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(20):  # the deadline for the start-up log line
            while b"dispatch_started" not in (line := await proc.stderr.readline()):
                assert line, "the process ended before it started serving"
        body = {
            "team_id": "t1",
            "service_point_id": "p1",
            "starts_at": "2025-07-10T08:00:00+07:00",
            "ends_at": "2025-07-10T12:00:00+07:00",
        }
        reply = await nc.request(
            command_subject("dispatch", "dispatch_team"), json.dumps(body).encode(), timeout=10
        )
        assert json.loads(reply.data)["accepted"]
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            await proc.communicate()
        assert proc.returncode == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
