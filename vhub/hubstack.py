"""``vhub dev --hubs hn,hcm,...``: linked hubs on one machine, shaped as production runs them.

The central NATS server (node 1 of the generated central config, alone: JetStream domain
``central``, the leaf listener) and one leaf-node server per other hub (its generated config: its
own domain, ``deny_imports`` on the link), each rendered by vhub/deploy/natsconf.py with the
accounts of vhub/natsaccounts.py and dev passwords (:data:`DEV_SECRETS`, never for production).
Registry and dispatch run at every hub under their own users, linked (shared/ownership.py: a hub
refuses other hubs' provinces and aggregates); reporting runs at central on ``VHUB_CENTRAL``,
which sources every hub's stream. Every process is supervised (vhub/supervisor.py).

``vhub hub cut HUB`` (vhub/hublink.py) rewrites that hub's server config without its leaf remote
and reloads it (SIGHUP; nats-server 2.15 drops and re-adds a leaf remote on reload, checked): the hub's server
and services keep running, cut off; ``vhub hub heal HUB`` reloads the linked config. A hub server
the supervisor restarts comes back as it was left (cut or linked): it reads the same file.

Just past the ~250-line guide on purpose: the stack's one start-up sequence (configs, servers,
provisioning, services, ready file) reads best in one place; cut and heal are vhub/hublink.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats

from shared.hubs import central_hub
from shared.natsserver import NatsServer, free_port, port_is_free, run_nats_server
from shared.settings import load_settings
from shared.streams import provision
from vhub.deploy.hublist import HubList, load_hub_list
from vhub.deploy.natsconf import LEAF_URLS_VAR, Listen, central_conf, hub_conf, leaf_urls_value
from vhub.devstack import ServiceProcess, spawn_service, wait_healthy
from vhub.hublink import CONF, STATE, reaches
from vhub.natsaccounts import CENTRAL_STREAM, render_accounts
from vhub.supervisor import Starter, Supervisor

USERS = ("REGISTRY", "DISPATCH", "REPORTING", "INGEST", "OPERATOR", "SYS", "LEAF")
DEV_SECRETS = {f"VHUB_{u}_PASSWORD": f"vhub-dev-{u.lower()}" for u in USERS}
OPERATOR = ("operator", DEV_SECRETS["VHUB_OPERATOR_PASSWORD"])
HOST = "127.0.0.1"


@dataclass
class HubServer:
    code: str
    workdir: Path
    port: int
    central: bool
    linked_conf: str = ""
    cut_conf: str = ""
    server: NatsServer | None = None

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    @property
    def operator_url(self) -> str:
        return f"nats://{OPERATOR[0]}:{OPERATOR[1]}@{HOST}:{self.port}"


@dataclass
class HubStack:
    """Start with :meth:`start`, stop with :meth:`stop`."""

    data_dir: Path
    hubs: list[str]  # the central hub first (added when missing)
    http_port: int | None = None
    hub_list: HubList = field(default_factory=load_hub_list)
    servers: dict[str, HubServer] = field(default_factory=dict)
    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    supervisor: Supervisor | None = None
    leaf_port: int = 0  # central's leaf listener

    def __post_init__(self) -> None:
        central = central_hub()
        unknown = [h for h in self.hubs if h not in {x.code for x in self.hub_list.hubs}]
        if unknown:
            raise ValueError(f"not in deploy/hubs.toml: {unknown}")
        self.hubs = [central, *(h for h in dict.fromkeys(self.hubs) if h != central)]

    @property
    def status_path(self) -> Path:
        return self.data_dir / "supervisor.json"

    @property
    def central(self) -> HubServer:
        return self.servers[self.hubs[0]]

    def start(self, timeout: float = 120.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        self.leaf_port = free_port()
        for code in self.hubs:
            self._start_server(code, self.leaf_port)
        asyncio.run(self._provision(timeout))
        (self.data_dir / STATE).write_text(json.dumps(self._state(), indent=2))
        ports = iter(range(self.http_port or 8080, 65535))
        for code in self.hubs:
            for service in ("registry", "dispatch"):
                self._start_service(f"{service}@{code}", service, code, _next_free(ports))
        self._start_service("reporting", "reporting", self.hubs[0], _next_free(ports))
        self.supervisor = Supervisor(self.status_path)
        for code, hs in self.servers.items():
            assert hs.server is not None
            self.supervisor.watch(f"nats-{code}", hs.server.process, self._restarter(code))
        for key, sp in self.procs.items():
            self.supervisor.watch(key, sp.process, self._respawner(key))
        wait_healthy(self.procs, timeout)

    def _start_server(self, code: str, leaf_port: int) -> None:
        hub = self.hub_list.hub(code)
        hs = HubServer(code, self.data_dir / f"nats-{code}", free_port(), hub.central)
        hs.workdir.mkdir(parents=True, exist_ok=True)
        read = CENTRAL_STREAM if hub.central else None
        (hs.workdir / f"accounts-{code}.conf").write_text(render_accounts(code, read_stream=read))
        listen = Listen(HOST, hs.port, None, str(hs.workdir / "jetstream"))
        if hub.central:
            hs.linked_conf = central_conf(
                self.hub_list, 1, listen, leaf_port=leaf_port, leaf_host=HOST, cluster=None
            )
        else:
            hs.linked_conf = hub_conf(hub, listen)
            hs.cut_conf = hub_conf(hub, listen, linked=False)
        self.servers[code] = hs
        hs.server = run_nats_server(hs.workdir, hs.linked_conf, env=self._server_env(leaf_port))

    def _server_env(self, leaf_port: int) -> dict[str, str]:
        link = f"nats-leaf://leaf:{DEV_SECRETS['VHUB_LEAF_PASSWORD']}@{HOST}:{leaf_port}"
        return {**DEV_SECRETS, LEAF_URLS_VAR: leaf_urls_value([link])}

    def _restarter(self, code: str) -> Starter:
        hs = self.servers[code]

        def start() -> subprocess.Popen[bytes]:
            # the file as it stands: a hub cut off stays cut off across a restart
            conf = (hs.workdir / CONF).read_text()
            hs.server = run_nats_server(hs.workdir, conf, env=self._server_env(self.leaf_port))
            return hs.server.process

        return start

    async def _provision(self, within: float) -> None:
        conns = {
            c: await nats.connect(hs.url, user=OPERATOR[0], password=OPERATOR[1])
            for c, hs in self.servers.items()
        }
        try:
            for code in self.hubs[1:]:
                await provision(
                    conns[code].jetstream(), load_settings(hub=code, nats_url=self.servers[code].url)
                )
            central = conns[self.hubs[0]]
            deadline = time.monotonic() + within
            for code in self.hubs[1:]:
                while not await reaches(central, code):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"central does not reach hub {code}'s JetStream")
                    await asyncio.sleep(0.1)  # the leaf link is coming up; bounded by the deadline
            # central's own streams, VHUB_CENTRAL sourcing every hub, reporting's consumers on it
            settings = load_settings(hub=self.hubs[0], nats_url=self.central.url)
            await provision(central.jetstream(), settings, central_sources=self.hubs)
        finally:
            for nc in conns.values():
                await nc.drain()

    def _start_service(self, key: str, module: str, hub: str, http_port: int) -> ServiceProcess:
        user = module
        db = self.data_dir / f"{key.replace('@', '-')}.db"
        env = {
            **os.environ,
            "VHUB_HUB": hub,
            "VHUB_STANDALONE": "false",
            "VHUB_NATS_URL": self.servers[hub].url,
            "VHUB_NATS_USER": user,
            "VHUB_NATS_PASSWORD": DEV_SECRETS[f"VHUB_{user.upper()}_PASSWORD"],
            "VHUB_INSTANCE": "1",  # a replica slot the accounts list (vhub/natsaccounts.py)
            "VHUB_HTTP_PORT": str(http_port),
            "VHUB_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "VHUB_LOG_FORMAT": "json",
        }
        if module == "reporting":
            env["VHUB_READ_STREAM"] = CENTRAL_STREAM
        sp = spawn_service(key, module, env, self.data_dir / "logs" / f"{key.replace('@', '-')}.log")
        self.procs[key] = sp
        return sp

    def _respawner(self, key: str) -> Starter:
        def start() -> subprocess.Popen[bytes]:
            old = self.procs[key]
            module, _, hub = key.partition("@")
            return self._start_service(
                key, module, hub or self.hubs[0], int(old.env["VHUB_HTTP_PORT"])
            ).process

        return start

    def _state(self) -> dict[str, object]:
        return {
            code: {"workdir": str(hs.workdir), "url": hs.url, "linked": hs.linked_conf, "cut": hs.cut_conf}
            for code, hs in self.servers.items()
        }

    def describe(self) -> dict[str, object]:
        services = {k: sp.url for k, sp in self.procs.items()}
        hubs = {
            code: {
                "nats_url": hs.url,
                "operator_nats_url": hs.operator_url,
                "central": hs.central,
                "services": {s: services[f"{s}@{code}"] for s in ("registry", "dispatch")},
            }
            for code, hs in self.servers.items()
        }
        return {
            "nats_url": self.central.operator_url,  # vhub simulate/status: the operator at central
            "hub": self.hubs[0],
            "hubs": hubs,
            "data_dir": str(self.data_dir),
            "services": services,
            "status_file": str(self.status_path),
        }

    def write_ready_file(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.describe(), indent=2))
        tmp.replace(path)

    def stop(self, timeout: float = 15.0) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
        for sp in self.procs.values():
            if sp.alive():
                sp.process.send_signal(signal.SIGTERM)
        for sp in self.procs.values():
            try:
                sp.process.wait(timeout)
            except subprocess.TimeoutExpired:
                sp.process.kill()
                sp.process.wait(timeout)
        for hs in self.servers.values():
            if hs.server is not None:
                hs.server.stop()


def _next_free(ports: Iterator[int]) -> int:
    for port in ports:
        if port_is_free(port):
            return port
    return free_port()
