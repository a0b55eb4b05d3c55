"""A provincial hub cut off from central keeps registering, and central converges when it is back.

Two real nats-servers from the wheel, on loopback free ports, running the shipped configs
(deploy/nats, see tests/support/leafnodes.py): a one-node central (JetStream domain ``central``,
leaf-node listener) and the hub ``hcm`` (JetStream domain ``hcm``, a leaf node of central). The hub's
streams are provisioned at the hub, ``VHUB_CENTRAL`` at central by ``vhub provision --central-hubs``.
A registry (user ``registry`` of accounts.conf) serves at the hub. The leaf link runs through a relay
(tests/support/linkcut.py) that is cut (both ends see the connection drop) and healed: the hub accepts
every registration (and an erasure: decided at the owning hub) meanwhile, and afterwards central
holds every hub event exactly once, in order
(DESIGN.md §4).

The 3-node central cluster, two hubs, cuts of 10,000 events, a central node SIGKILLed and central
restarted while hubs write: tests/integration/test_hub_faults.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client

from services.registry.app import RegistryApp
from shared.natsserver import NatsServer
from shared.settings import load_settings
from shared.streams import provision
from tests.integration.registry.test_registry import person
from tests.support.leafnodes import central_config, hub_config, secrets, start_configured_server
from tests.support.linkcut import LinkCut
from tests.support.waiting import eventually, free_port

HUB = "hcm"  # a provincial hub; central's own hub code is the default "hn"
CENTRAL_STREAM = "VHUB_CENTRAL"
HUB_STREAM = f"VHUB_EVT_{HUB.upper()}"
SECRETS = secrets()


async def connect(url: str, user: str) -> Client:
    return await nats.connect(
        url,
        user=user,
        password=SECRETS[f"VHUB_{user.upper()}_PASSWORD"],
        inbox_prefix=f"_INBOX_{user}",  # as shared.runtime.connect_nats connects a service user
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
    )


class Topology:
    """The central server and the hub leaf node, whose link runs through a relay we can cut."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.servers: list[NatsServer] = []

    def start_central(self, leaf_port: int) -> NatsServer:
        config = central_config(self.root / "central" / "jetstream", leaf_port=leaf_port)
        server = start_configured_server(self.root / "central", config, SECRETS)
        self.servers.append(server)
        return server

    def start_hub(self, leaf_port: int) -> NatsServer:
        leaf_url = f"nats-leaf://leaf:{SECRETS['VHUB_LEAF_PASSWORD']}@127.0.0.1:{leaf_port}"
        env = {**SECRETS, "VHUB_HUB": HUB, "VHUB_CENTRAL_LEAF_URL": leaf_url}
        server = start_configured_server(self.root / "hub", hub_config(self.root / "hub" / "jetstream"), env)
        self.servers.append(server)
        return server


@pytest.fixture
async def topology(tmp_path: Path) -> AsyncIterator[tuple[Topology, LinkCut]]:
    topo = Topology(tmp_path)
    link = LinkCut(free_port())
    try:
        topo.start_central(link.target_port)
        await link.start()
        yield topo, link
    finally:
        await link.cut()
        for server in topo.servers:
            server.kill()  # every process we started, whatever happened


@contextlib.asynccontextmanager
async def registry_at(url: str) -> AsyncIterator[None]:
    """A registry replica at the hub, as the ``registry`` user of accounts.conf."""
    settings = load_settings(
        env="test", hub=HUB, nats_url=url, log_format="console", http_port=0, instance="1"
    )
    conn = await connect(url, "registry")
    app = RegistryApp(conn, settings, catch_up_s=30.0)
    await app.start()
    try:
        yield
    finally:
        await app.stop()
        await conn.drain()


async def provision_central(url: str) -> None:
    """What an operator runs at central: ``vhub provision --central-hubs hn,hcm``."""
    env = {
        **os.environ,
        "VHUB_NATS_URL": url,
        "VHUB_NATS_USER": "operator",
        "VHUB_NATS_PASSWORD": SECRETS["VHUB_OPERATOR_PASSWORD"],
        "VHUB_HUB": "hn",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vhub.cli",
        "provision",
        "--central-hubs",
        f"hn,{HUB}",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()


async def register(hub_nc: Client, first: int, count: int) -> list[dict[str, Any]]:
    replies = []
    for i in range(first, first + count):
        body = person(i, command_id=f"r{i}", province_code="79", commune_code="26506")  # hcm serves 79
        reply = await hub_nc.request(
            "vhub.cmd.registry.register_volunteer", json.dumps(body).encode(), timeout=15
        )
        replies.append(json.loads(reply.data))
    return replies


async def messages(conn: Client, stream: str) -> list[tuple[str, dict[str, str], bytes]]:
    js = conn.jetstream()
    last = (await js.stream_info(stream)).state.last_seq
    out = []
    for seq in range(1, last + 1):
        msg = await js.get_msg(stream, seq, direct=True)
        out.append((msg.subject or "", dict(msg.headers or {}), msg.data or b""))
    return out


async def count(conn: Client, stream: str) -> int:
    try:
        return (await conn.jetstream().stream_info(stream)).state.messages
    except (nats.errors.Error, nats.js.errors.Error):
        return -1


async def test_a_cut_off_hub_keeps_registering_and_central_converges(
    topology: tuple[Topology, LinkCut],
) -> None:
    topo, link = topology
    central, hub = topo.servers[0], topo.start_hub(link.port)
    hub_nc = await connect(hub.url, "operator")
    central_nc = await connect(central.url, "operator")
    try:
        await provision(hub_nc.jetstream(), load_settings(env="test", hub=HUB, nats_url=hub.url))

        async def hub_reachable() -> bool:
            """Central reaches the hub's JetStream (its own domain: $JS.hcm.API) over the leaf link."""
            try:
                await central_nc.jetstream(domain=HUB, timeout=2).stream_info(HUB_STREAM)
            except (nats.errors.Error, nats.js.errors.Error):
                return False
            return True

        await eventually(hub_reachable, "the leaf link is up")
        await provision_central(central.url)

        async def central_has(n: int) -> bool:
            return await count(central_nc, CENTRAL_STREAM) == n

        async with registry_at(hub.url):
            before = await register(hub_nc, 0, 5)
            assert all(r["accepted"] for r in before), before
            assert await count(hub_nc, HUB_STREAM) == 5  # one append each (issue 14; was claim + volunteer)
            await eventually(lambda: central_has(5), "central holds the first registrations")

            await link.cut()  # the hub is cut off from central
            assert not await hub_reachable()
            during = await register(hub_nc, 100, 5)
            assert all(r["accepted"] for r in during), during
            assert await count(hub_nc, HUB_STREAM) == 10
            # an erasure is decided at the owning hub (its key bucket, its log): cut off, too
            gone = {"volunteer_id": before[0]["aggregate_id"], "reason": "subject_request"}
            erased = await hub_nc.request(
                "vhub.cmd.registry.erase_volunteer", json.dumps(gone).encode(), timeout=15
            )
            assert json.loads(erased.data)["accepted"], erased.data
            assert await count(hub_nc, HUB_STREAM) == 12  # withdrawn + erased (which frees their phone slot)
            assert await count(central_nc, CENTRAL_STREAM) == 5  # nothing crossed the cut

            await link.heal()
            await eventually(lambda: central_has(12), "central converges after the link heals")

        hub_msgs = await messages(hub_nc, HUB_STREAM)
        central_msgs = await messages(central_nc, CENTRAL_STREAM)
        assert len(central_msgs) == len(hub_msgs) == 12
        erased_person = person(0)
        for _, _, data in central_msgs:  # central's copy holds the erased person's data sealed only
            assert erased_person["full_name"].encode() not in data
            assert b"900000000" not in data
        for hub_seq, (hub_msg, copy) in enumerate(zip(hub_msgs, central_msgs, strict=True), start=1):
            subject, headers, data = copy
            assert (subject, data) == (hub_msg[0], hub_msg[2])
            assert headers["Nats-Msg-Id"] == hub_msg[1]["Nats-Msg-Id"]
            source = headers["Nats-Stream-Source"].split()
            assert source[0].split(":")[0] == HUB_STREAM, source
            assert int(source[1]) == hub_seq, source  # the origin's sequence: same order, no gap
        assert len({h["Nats-Msg-Id"] for _, h, _ in central_msgs}) == 12  # no duplicates
    finally:
        await hub_nc.close()
        await central_nc.close()
