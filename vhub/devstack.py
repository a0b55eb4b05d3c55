"""The embedded stack: a nats-server from the wheel, streams provisioned, every service built so far
as its own process. Used by ``vhub dev``, ``vhub demo``, end-to-end tests and benchmarks.

Supervised (the default): a service or the nats-server that dies is restarted with back-off and
logged (vhub/supervisor.py); its state goes to ``<data_dir>/supervisor.json`` (the ready file
names it as ``status_file``). Only :meth:`DevStack.stop` ends the stack."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats

from shared.natsserver import NatsServer, die_with_parent, free_port, port_is_free, start_nats_server
from shared.settings import Settings, load_settings
from shared.streams import provision
from vhub.supervisor import Supervisor

SERVICES = ("registry", "dispatch", "reporting")


def available_services() -> list[str]:
    """Services whose ``python -m services.<name>`` entry point exists in this checkout."""
    return [s for s in SERVICES if _has_module(f"services.{s}.__main__")]


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent package is missing
        return False


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    env: dict[str, str]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None


def spawn_service(key: str, module: str, env: dict[str, str], log_path: Path) -> ServiceProcess:
    """``python -m services.<module>`` with ``env`` (its ``VHUB_HTTP_PORT`` names its URL), output
    appended to ``log_path``; it dies with its parent."""
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{module}"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
    return ServiceProcess(key, proc, f"http://127.0.0.1:{env['VHUB_HTTP_PORT']}", env, log_path)


def wait_healthy(procs: dict[str, ServiceProcess], timeout: float, only: list[str] | None = None) -> None:
    """Until every process (or those in ``only``) answers ``/healthz``; raise if one exits."""
    deadline = time.monotonic() + timeout
    pending = set(only or procs)
    with httpx.Client(timeout=2.0) as client:
        while pending:
            for name in sorted(pending):
                sp = procs[name]
                if not sp.alive():
                    tail = sp.log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{name} exited ({sp.process.returncode}):\n{tail}")
                try:
                    if client.get(f"{sp.url}/healthz").status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout}s: {sorted(pending)}")
            if pending:
                time.sleep(0.05)  # polling HTTP endpoints, bounded by the deadline


@dataclass
class DevStack:
    """Start with :meth:`start`, stop with :meth:`stop` (SIGTERM to every process, then wait)."""

    data_dir: Path
    nats_port: int | None = None
    http_port: int | None = None
    sync_always: bool = True
    hub: str = "hn"
    # the only hub: it serves every province (shared/ownership.py); `vhub dev --hubs` runs linked
    standalone: bool = True
    services: list[str] = field(default_factory=available_services)
    extra_env: dict[str, str] = field(default_factory=dict)
    supervise: bool = True
    nats: NatsServer | None = None
    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    supervisor: Supervisor | None = None

    @property
    def nats_url(self) -> str:
        assert self.nats is not None, "stack not started"
        return self.nats.url

    def settings(self) -> Settings:
        return load_settings(hub=self.hub, nats_url=self.nats_url)

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        port = self.nats_port if self.nats_port is not None else 4222
        if port <= 0 or not port_is_free(port):
            port = -1  # the server picks a free port and reports it
        self.nats = start_nats_server(self.data_dir / "nats", port=port, sync_always=self.sync_always)
        asyncio.run(self._provision())
        first_http = self.http_port or 8080
        for offset, name in enumerate(self.services):
            wanted = first_http + offset
            self.start_service(name, wanted if port_is_free(wanted) else free_port())
        if self.supervise:
            self.supervisor = Supervisor(self.status_path)
            self.supervisor.watch("nats-server", self.nats.process, self._restart_nats)
            for name, sp in self.procs.items():
                self.supervisor.watch(name, sp.process, self._respawn(name))
        self.wait_ready(timeout)

    @property
    def status_path(self) -> Path:
        return self.data_dir / "supervisor.json"

    def _restart_nats(self) -> subprocess.Popen[bytes]:
        """The same port and store: clients reconnect to where they were (the supervisor calls it)."""
        assert self.nats is not None
        self.nats = start_nats_server(self.nats.workdir, port=self.nats.port, sync_always=self.sync_always)
        return self.nats.process

    def _respawn(self, name: str) -> Callable[[], subprocess.Popen[bytes]]:
        def start() -> subprocess.Popen[bytes]:
            return self.start_service(name, int(self.procs[name].env["VHUB_HTTP_PORT"])).process

        return start

    async def _provision(self) -> None:
        nc = await nats.connect(self.nats_url)
        try:
            await provision(nc.jetstream(), self.settings())
        finally:
            await nc.drain()

    def service_env(self, name: str, http_port: int) -> dict[str, str]:
        db = self.data_dir / f"{name}.db"
        return {
            **os.environ,
            "VHUB_HUB": self.hub,
            "VHUB_STANDALONE": "true" if self.standalone else "false",
            "VHUB_NATS_URL": self.nats_url,
            "VHUB_HTTP_PORT": str(http_port),
            "VHUB_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "VHUB_LOG_FORMAT": "json",
            **self.extra_env,
        }

    def start_service(self, name: str, http_port: int) -> ServiceProcess:
        """Start (or restart) one service process."""
        env = self.service_env(name, http_port)
        sp = spawn_service(name, name, env, self.data_dir / "logs" / f"{name}.log")
        self.procs[name] = sp
        return sp

    def restart(self, name: str, timeout: float = 30.0) -> None:
        """Bring a dead service back and wait until it is healthy: supervised, the supervisor does
        it (this waits for a new process); unsupervised, start it here."""
        old = self.procs[name]
        if self.supervisor is None:
            self.start_service(name, int(old.env["VHUB_HTTP_PORT"]))
        else:
            deadline = time.monotonic() + timeout
            while self.procs[name] is old or not self.procs[name].alive():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not restarted within {timeout}s")
                time.sleep(0.05)  # waiting for the supervisor's restart; bounded by the deadline
        self.wait_ready(max(1.0, timeout), only=[name])

    def kill(self, name: str) -> None:
        """SIGKILL one service (fault tests); supervised, it comes back after its back-off."""
        proc = self.procs[name].process
        proc.kill()
        proc.wait(10)

    def kill_nats(self) -> None:
        """SIGKILL the nats-server (fault tests); supervised, it comes back on the same port."""
        assert self.nats is not None
        self.nats.process.kill()
        self.nats.process.wait(10)

    def wait_ready(self, timeout: float, only: list[str] | None = None) -> None:
        wait_healthy(self.procs, timeout, only)

    def describe(self) -> dict[str, object]:
        return {
            "nats_url": self.nats_url,
            "hub": self.hub,
            "data_dir": str(self.data_dir),
            "services": {name: sp.url for name, sp in self.procs.items()},
            "status_file": str(self.status_path) if self.supervisor else None,
        }

    def write_ready_file(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.describe(), indent=2))
        tmp.replace(path)  # readers never see half a file

    def stop(self, timeout: float = 15.0) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()  # first: a child stopped below is not restarted
        for sp in self.procs.values():
            if sp.alive():
                sp.process.send_signal(signal.SIGTERM)
        for sp in self.procs.values():
            try:
                sp.process.wait(timeout)
            except subprocess.TimeoutExpired:
                sp.process.kill()
                sp.process.wait(timeout)
        if self.nats is not None:
            self.nats.stop()
