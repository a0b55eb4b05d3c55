"""Supervision, on real processes: `vhub dev` brings back what dies; /healthz tells when NATS is gone.

* Under `vhub dev`, a SIGKILLed service comes back (a new process on the same port), serves
  commands again, is logged (``process_exited``/``process_restarted``) and counted in the status
  file; the stack stops only on SIGTERM.
* A service's /healthz answers 503 once its NATS link has been gone more than a few seconds (so
  compose or Kubernetes would restart it) and 200 again after the server is back.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import psutil
import pytest

from shared.natsserver import start_nats_server
from tests.support.waiting import free_port, wait_until
from vhub.devstack import DevStack

TEAM = {
    "name": "Đội hình giám sát",
    "province_code": "01",
    "focus": "admin_support",
    "organisation": "Đoàn xã",
}


@pytest.fixture
def vhub_dev(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, Any], Path]]:
    ready, log = tmp_path / "ready.json", tmp_path / "dev.log"
    command = [sys.executable, "-m", "vhub.cli", "dev", "--data-dir", str(tmp_path / "data")]
    command += ["--ready-file", str(ready), "--http-port", str(free_port()), "--nats-port", "0"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: ready.exists() or proc.poll() is not None, "ready file", 60)
        assert proc.poll() is None, log.read_text()
        yield proc, json.loads(ready.read_text()), log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def status(info: dict[str, Any]) -> dict[str, Any]:
    processes: dict[str, Any] = json.loads(Path(info["status_file"]).read_text())["processes"]
    return processes


def healthz(url: str) -> int:
    """The status code of ``url``/healthz, 0 while nothing listens there."""
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code
    except httpx.HTTPError:
        return 0


async def form_team(nats_url: str, command_id: str) -> dict[str, Any]:
    nc = await nats.connect(nats_url)
    try:
        body = json.dumps({**TEAM, "command_id": command_id}).encode()
        reply = await nc.request("vhub.cmd.registry.form_team", body, timeout=10)
        out: dict[str, Any] = json.loads(reply.data)
        return out
    finally:
        await nc.drain()


async def test_a_killed_service_comes_back_and_serves(
    vhub_dev: tuple[subprocess.Popen[bytes], dict[str, Any], Path],
) -> None:
    """Given `vhub dev`, when a service is SIGKILLed (twice), then it is restarted each time, logged,
    counted, and serves again; SIGTERM still stops the whole stack."""
    proc, info, log = vhub_dev
    assert set(status(info)) == {"nats-server", *info["services"]}
    assert all(s["state"] == "running" and s["restarts"] == 0 for s in status(info).values())
    for n in (1, 2):
        victim = status(info)["registry"]["pid"]
        psutil.Process(victim).kill()

        def back(n: int = n, victim: int = victim) -> bool:
            s = status(info)["registry"]
            return bool(s["state"] == "running" and s["restarts"] == n and s["pid"] != victim)

        wait_until(back, "registry restarted", 30)
        assert status(info)["registry"]["last_exit"] == -signal.SIGKILL
        wait_until(lambda: healthz(info["services"]["registry"]) == 200, "registry healthy again", 30)
        assert (await form_team(info["nats_url"], f"after-kill-{n}"))["accepted"]
    assert proc.poll() is None, "a dead service stopped the stack"
    text = log.read_text()
    assert text.count("process_exited") == 2, text[-3000:]
    assert text.count("process_restarted") == 2, text[-3000:]
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    wait_until(
        lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children), "gone", 10
    )
    assert "process_exited" not in log.read_text()[len(text) :]  # a clean stop is no death to report


def test_healthz_fails_while_nats_is_gone_and_recovers(tmp_path: Path) -> None:
    """Given registry and dispatch processes, when the nats-server is killed, then their /healthz
    answers 503 after the grace; when it is back on the same port, 200 again."""
    stack = DevStack(tmp_path / "stack", nats_port=-1, http_port=free_port(), supervise=False)
    stack.services = ["registry", "dispatch"]
    stack.start(timeout=120)
    try:
        assert stack.nats is not None
        port, workdir = stack.nats.port, stack.nats.workdir
        urls = [sp.url for sp in stack.procs.values()]

        def codes() -> list[int]:
            return [healthz(url) for url in urls]

        assert codes() == [200, 200]
        stack.kill_nats()
        wait_until(lambda: codes() == [503, 503], "/healthz 503 on both", 30)
        body = httpx.get(f"{urls[0]}/healthz").json()
        assert body["status"] == "nats_down"
        assert body["down_s"] >= 5  # 503 comes after the 5 s grace; the answer rounds to 0.1 s
        stack.nats = start_nats_server(workdir, port=port, sync_always=stack.sync_always)
        wait_until(lambda: codes() == [200, 200], "/healthz 200 again on both", 30)
        assert all(sp.alive() for sp in stack.procs.values())
    finally:
        stack.stop()
