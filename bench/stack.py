"""Throwaway nats-servers and service processes for one benchmark run, and their peak RSS."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import psutil

from shared.natsserver import NatsServer, die_with_parent, free_port, start_nats_server
from vhub.deploy.compose import NATS_GOMEMLIMIT_HUB

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = Path(__file__).resolve().parent / ".scratch"


class RssWatch:
    """Samples the resident set size of named processes (and their children) in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self._procs: dict[str, psutil.Process] = {}
        self.peaks: dict[str, int] = {}
        self._interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def watch(self, name: str, pid: int) -> None:
        with self._lock:
            self._procs[name] = psutil.Process(pid)
            self.peaks.setdefault(name, 0)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def sample(self) -> None:
        with self._lock:
            items = list(self._procs.items())
        for name, proc in items:
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            self.peaks[name] = max(self.peaks.get(name, 0), rss)

    def close(self) -> None:
        self.sample()
        self._stop.set()
        self._thread.join(2)


@contextlib.contextmanager
def nats_server(name: str, *, sync_always: bool, rss: RssWatch | None = None) -> Iterator[NatsServer]:
    """A fresh nats-server with an empty store under bench/.scratch (deleted afterwards)."""
    import shutil

    workdir = SCRATCH / f"{name}-{os.getpid()}-{time.monotonic_ns()}"
    # under the same Go memory limit as a deployed hub's server, so its peak RSS is the shipped one
    server = start_nats_server(workdir, sync_always=sync_always, env={"GOMEMLIMIT": NATS_GOMEMLIMIT_HUB})
    if rss is not None:
        rss.watch(f"nats-server ({name}, GOMEMLIMIT={NATS_GOMEMLIMIT_HUB})", server.process.pid)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def module_exists(module: str) -> bool:
    """Whether ``python -m <module>`` could run: a service not built yet has no module."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_service(
    module: str, env: dict[str, str], logdir: Path, args: list[str] | None = None
) -> ServiceProcess:
    """``python -m <module>`` with the VHUB_* environment given (and the repo on sys.path)."""
    logdir.mkdir(parents=True, exist_ok=True)
    log_path = logdir / f"{module.replace('.', '_')}-{time.monotonic_ns()}.log"
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "VHUB_LOG_LEVEL": "warning",
        "VHUB_LOG_FORMAT": "json",
        **env,
    }
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *(args or [])],
            cwd=ROOT,
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
    return ServiceProcess(module, proc, log_path, env)


async def wait_for_command_subject(
    url: str, subject: str, proc: ServiceProcess, within: float = 60.0
) -> None:
    """Until a request on ``subject`` gets any reply (the service subscribed), or fail."""
    nc = await nats.connect(url)
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if proc.process.poll() is not None:
                raise RuntimeError(f"{proc.name} exited ({proc.process.returncode}):\n{proc.log_tail()}")
            try:
                await nc.request(subject, b"{}", timeout=0.5)
                return
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                await asyncio.sleep(0.05)  # polling readiness of another process, bounded
        raise RuntimeError(f"{proc.name} did not answer on {subject} within {within}s:\n{proc.log_tail()}")
    finally:
        await nc.close()


def bench_env(url: str, hub: str, **extra: str) -> dict[str, str]:
    return {"VHUB_NATS_URL": url, "VHUB_HUB": hub, "VHUB_ENV": "test", **extra}


def dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


async def wait_http(url: str, proc: ServiceProcess, within: float = 60.0) -> None:
    """Until ``url`` answers 200, or fail with the process's log."""
    import httpx

    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.process.poll() is not None:
                raise RuntimeError(f"{proc.name} exited ({proc.process.returncode}):\n{proc.log_tail()}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)  # polling another process's readiness, bounded
    raise RuntimeError(f"{proc.name}: {url} not answering after {within}s:\n{proc.log_tail()}")


async def start_http_service(
    module: str, env: dict[str, str], logdir: Path, rss: RssWatch | None = None
) -> tuple[ServiceProcess, str]:
    """Start a service with an HTTP port of its own; returns it and its base URL once healthy."""
    port = free_port()
    proc = start_service(module, {**env, "VHUB_HTTP_PORT": str(port)}, logdir)
    if rss is not None:
        rss.watch(module, proc.process.pid)
    base = f"http://127.0.0.1:{port}"
    await wait_http(f"{base}/healthz", proc)
    return proc, base
