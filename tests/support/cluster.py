"""The launch in miniature on loopback: the central cluster (3 nodes, the generated configs with
routes between free ports) and provincial hubs as leaf nodes (their generated configs), each hub's
links to the three central nodes running through relays a test can cut and heal
(tests/support/linkcut.py). Every process is a real nats-server from the wheel; ports stay fixed
for the life of a :class:`Launch`, so a killed node restarts where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client

from shared.natsserver import NatsServer, NatsServerError, free_port
from tests.support.leafnodes import (
    LOOPBACK,
    central_config,
    hub_config,
    leaf_env,
    leaf_url,
    secrets,
    start_configured_server,
)
from tests.support.linkcut import LinkCut
from vhub.deploy.natsconf import ClusterListen, central_node_name

NODES = 3


@dataclass
class CentralNode:
    index: int
    workdir: Path
    client_port: int = field(default_factory=free_port)
    cluster_port: int = field(default_factory=free_port)
    leaf_port: int = field(default_factory=free_port)
    server: NatsServer | None = None

    @property
    def name(self) -> str:
        return central_node_name(self.index)

    @property
    def url(self) -> str:
        return f"nats://{LOOPBACK}:{self.client_port}"


@dataclass
class HubNode:
    code: str
    workdir: Path
    client_port: int = field(default_factory=free_port)
    links: list[LinkCut] = field(default_factory=list)  # one per central node
    server: NatsServer | None = None

    @property
    def url(self) -> str:
        return f"nats://{LOOPBACK}:{self.client_port}"


class Launch:
    """Central cluster + hubs. ``async with Launch(root, ["hcm", "ct"]) as launch: ...``"""

    def __init__(self, root: Path, hubs: list[str]) -> None:
        self.root = root
        self.nodes = [CentralNode(i, root / f"central-{i}") for i in range(1, NODES + 1)]
        self.hubs = {code: HubNode(code, root / f"hub-{code}") for code in hubs}

    @property
    def central_url(self) -> str:
        """Every central node, as a service at central is given them (VHUB_NATS_URL)."""
        return ",".join(n.url for n in self.nodes)

    def node(self, name: str) -> CentralNode:
        return next(n for n in self.nodes if n.name == name)

    def start_node(self, node: CentralNode) -> NatsServer:
        routes = tuple(f"{LOOPBACK}:{n.cluster_port}" for n in self.nodes)
        config = central_config(
            node.workdir / "jetstream",
            leaf_port=node.leaf_port,
            port=node.client_port,
            index=node.index,
            cluster=ClusterListen(node.cluster_port, routes),
        )
        node.server = start_configured_server(node.workdir, config, secrets())
        return node.server

    def kill_node(self, node: CentralNode) -> None:
        """SIGKILL: no shutdown, whatever was in flight is lost to that node."""
        assert node.server is not None
        node.server.kill()

    def stop_node(self, node: CentralNode) -> None:
        assert node.server is not None
        node.server.stop()

    async def start_hub(self, hub: HubNode) -> NatsServer:
        if not hub.links:
            hub.links = [LinkCut(n.leaf_port) for n in self.nodes]
            for link in hub.links:
                await link.start()
        env = leaf_env([leaf_url(link.port) for link in hub.links])
        config = hub_config(hub.workdir / "jetstream", port=hub.client_port, hub=hub.code)
        hub.server = start_configured_server(hub.workdir, config, env)
        return hub.server

    async def cut(self, code: str) -> None:
        """The hub's WAN link goes down: every connection to central aborted, no new ones."""
        for link in self.hubs[code].links:
            await link.cut()

    async def heal(self, code: str) -> None:
        for link in self.hubs[code].links:
            await link.heal()

    def _start_central(self, attempts: int = 5) -> None:
        """Start every central node. Ports are chosen free but not held (other sessions share the
        machine): when one was taken meanwhile, choose them all again (routes name every node's)."""
        for attempt in range(attempts):
            try:
                for node in self.nodes:
                    self.start_node(node)
                return
            except NatsServerError as err:
                if "address already in use" not in str(err) or attempt == attempts - 1:
                    raise
                for node in self.nodes:
                    if node.server is not None:
                        node.server.kill()
                        node.server = None
                    node.client_port, node.cluster_port, node.leaf_port = (
                        free_port(),
                        free_port(),
                        free_port(),
                    )

    async def _start_hub(self, hub: HubNode, attempts: int = 5) -> None:
        for attempt in range(attempts):
            try:
                await self.start_hub(hub)
                return
            except NatsServerError as err:
                if "address already in use" not in str(err) or attempt == attempts - 1:
                    raise
                hub.client_port = free_port()

    async def __aenter__(self) -> Launch:
        try:
            self._start_central()
            for hub in self.hubs.values():
                await self._start_hub(hub)
            await self.wait_central_ready()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for hub in self.hubs.values():
            for link in hub.links:
                await link.cut()
            if hub.server is not None:
                hub.server.kill()
        for node in self.nodes:
            if node.server is not None:
                node.server.kill()  # every process this launch started, whatever happened

    async def wait_central_ready(self, within: float = 30.0) -> None:
        """Until the cluster has a JetStream meta leader (an R3 stream can be created)."""
        nc = await operator(self.central_url)
        try:
            deadline = asyncio.get_running_loop().time() + within
            while True:
                try:
                    info = await nc.jetstream(timeout=2).account_info()
                    if info is not None:
                        return
                except (nats.errors.Error, nats.js.errors.Error):
                    pass
                assert asyncio.get_running_loop().time() < deadline, "central cluster not ready"
                await asyncio.sleep(0.1)  # polling the cluster's readiness, bounded
        finally:
            await nc.close()


async def connect_as(url: str, user: str, inbox: str | None = None) -> Client:
    """A client of ``user`` (accounts.conf), reconnecting for as long as the test runs."""
    return await nats.connect(
        url.split(","),
        user=user,
        password=secrets()[f"VHUB_{user.upper()}_PASSWORD"],
        inbox_prefix=inbox or f"_INBOX_{user}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
    )


async def operator(url: str) -> Client:
    return await connect_as(url, "operator", "_INBOX")


async def hub_reachable(central: Client, hub: str, stream: str) -> bool:
    """Central reaches the hub's JetStream (its own domain, $JS.<hub>.API) over the leaf link."""
    with contextlib.suppress(nats.errors.Error, nats.js.errors.Error):
        await central.jetstream(domain=hub, timeout=2).stream_info(stream)
        return True
    return False
