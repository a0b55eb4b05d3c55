"""What the hub fault tests check and how they provision (tests/integration/test_hub_faults.py):
streams provisioned as an operator would, central's copy compared with every origin's log, and
the figures each test reports."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client

from shared.settings import load_settings
from shared.streams import provision
from tests.support.cluster import Launch, hub_reachable, operator
from tests.support.streamcopy import as_origin, copies_of, read_stream
from tests.support.waiting import eventually

CENTRAL = "VHUB_CENTRAL"


def stream_of(hub: str) -> str:
    return f"VHUB_EVT_{hub.upper()}"


def report(test: str, figures: dict[str, Any]) -> None:
    line = json.dumps({"test": test, **figures})
    print(line)
    if path := os.environ.get("VHUB_TEST_FIGURES"):
        with Path(path).open("a") as f:
            f.write(line + "\n")


async def vhub_provision_central(url: str, hubs: list[str]) -> None:
    """What an operator runs at central: ``vhub provision --central-hubs hn,...`` (R3)."""
    env = {
        **os.environ,
        "VHUB_NATS_URL": url,
        "VHUB_NATS_USER": "operator",
        "VHUB_NATS_PASSWORD": "test-operator",
        "VHUB_HUB": "hn",
        "VHUB_STREAM_REPLICAS": "3",
    }
    args = ["-m", "vhub.cli", "provision", "--central-hubs", ",".join(["hn", *hubs])]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, out.decode()[-3000:]


async def provisioned(launch: Launch) -> tuple[Client, dict[str, Client]]:
    """Each hub's streams at the hub; central's (R3) once central reaches every hub."""
    central = await operator(launch.central_url)
    hubs = {code: await operator(h.url) for code, h in launch.hubs.items()}
    for code, nc in hubs.items():
        await provision(nc.jetstream(), load_settings(env="test", hub=code))
    for code in hubs:
        await eventually(lambda c=code: hub_reachable(central, c, stream_of(c)), f"central reaches {code}")
    await vhub_provision_central(launch.central_url, list(hubs))
    return central, hubs


async def last_seq(nc: Client, stream: str, within: float = 20.0) -> int:
    """The stream's last sequence; a read, so asked again while the cluster answers "unavailable"
    (a leader election on a loaded 2-core machine) or not in time, up to ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return (await nc.jetstream(timeout=5).stream_info(stream)).state.last_seq
        except (nats.js.errors.ServiceUnavailableError, nats.errors.TimeoutError):
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.1)  # before asking again; bounded by the deadline


async def central_holds(central: Client, expected: int) -> bool:
    return await last_seq(central, CENTRAL) == expected


async def assert_central_is_every_log(central: Client, logs: dict[str, Client]) -> dict[str, int]:
    """VHUB_CENTRAL equals each origin's log: same messages, once each, in the origin's order."""
    copy = await read_stream(central, CENTRAL)
    figures = {"central_messages": len(copy)}
    for hub, nc in logs.items():
        origin = await read_stream(nc, stream_of(hub))
        assert copies_of(copy, stream_of(hub)) == as_origin(origin), f"central's copy of {hub} differs"
        figures[f"{hub}_messages"] = len(origin)
    duplicates = sum(n - 1 for n in Counter(c.msg_id for c in copy).values() if n > 1)
    assert duplicates == 0
    assert len(copy) == sum(v for k, v in figures.items() if k != "central_messages")
    return {**figures, "duplicates": duplicates}


async def replicas_current(central: Client, stream: str, node: str) -> bool:
    """Every replica of ``stream`` current with no lag, ``node`` among them (back and caught up)."""
    info = await central.jetstream(timeout=5).stream_info(stream)
    cluster = info.cluster
    if cluster is None or not cluster.replicas:
        return False
    peers = {cluster.leader, *(r.name for r in cluster.replicas)}
    return node in peers and all(r.current and not r.offline and not r.lag for r in cluster.replicas)


async def sources_not_set_up(central: Client, hubs: list[str]) -> bool:
    """Every hub's source of VHUB_CENTRAL reports no activity since the restart (``active`` -1)."""
    try:
        info = await central.jetstream(timeout=3).stream_info(CENTRAL)
    except (nats.errors.Error, nats.js.errors.Error):
        return False
    active = {s.name: s.active for s in info.sources or []}
    return all(active.get(stream_of(h)) == -1 for h in hubs)


async def central_holds_some(central: Client, n: int) -> bool:
    return await last_seq(central, CENTRAL) >= n


async def central_grew(central: Client, since: int) -> bool:
    try:
        return await last_seq(central, CENTRAL) > since
    except Exception:
        return False


async def all_reachable(central: Client, hubs: list[str]) -> bool:
    return all([await hub_reachable(central, h, stream_of(h)) for h in hubs])
