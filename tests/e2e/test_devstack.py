"""`vhub dev` as a user runs it: a real process tree, a ready file, commands, a clean SIGTERM."""

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

from tests.support.waiting import free_port, wait_until


@pytest.fixture
def dev_stack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, Any]]]:
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vhub.cli",
            "dev",
            "--data-dir",
            str(tmp_path / "data"),
            "--ready-file",
            str(ready),
            "--http-port",
            str(free_port()),
            "--nats-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: ready.exists() or proc.poll() is not None, "ready file", 60)
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        yield proc, json.loads(ready.read_text())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def test_dev_stack_serves_commands_and_stops_cleanly_on_sigterm(
    dev_stack: tuple[subprocess.Popen[bytes], dict[str, Any]],
) -> None:
    """Given `vhub dev`, the ready file names every service; commands work; SIGTERM stops all."""
    proc, info = dev_stack
    assert "registry" in info["services"]
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) >= 1 + len(info["services"])  # nats-server + one process per service
    async with httpx.AsyncClient(timeout=5) as client:
        for url in info["services"].values():
            assert (await client.get(f"{url}/healthz")).status_code == 200
            assert (await client.get(f"{url}/metrics")).status_code == 200
    nc = await nats.connect(info["nats_url"])
    reply = await nc.request(
        "vhub.cmd.registry.form_team",
        json.dumps(
            {
                "name": "Đội hình e2e",
                "province_code": "01",
                "focus": "admin_support",
                "organisation": "Đoàn xã",
            }
        ).encode(),
        timeout=10,
    )
    await nc.drain()
    assert json.loads(reply.data)["accepted"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    wait_until(
        lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children),
        "children gone",
        10,
    )


def test_a_killed_dev_stack_leaves_no_orphans(
    dev_stack: tuple[subprocess.Popen[bytes], dict[str, Any]],
) -> None:
    """SIGKILL of `vhub dev` (no chance to clean up) still takes nats-server and services down."""
    proc, _ = dev_stack
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children
    proc.kill()
    proc.wait(10)
    wait_until(
        lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children),
        "orphans gone",
        20,
    )


def test_simulate_and_status_against_a_dev_stack(
    dev_stack: tuple[subprocess.Popen[bytes], dict[str, Any]], tmp_path: Path
) -> None:
    """`vhub simulate` drives the running stack and every figure checks out; `vhub status` shows
    every service alive and ready."""
    _, info = dev_stack
    ready = tmp_path / "ready.json"
    assert ready.exists()
    sim = subprocess.run(
        [
            sys.executable,
            "-m",
            "vhub.cli",
            "simulate",
            "--ready-file",
            str(ready),
            "--scenario",
            "campaign",
            "--scale",
            "0.002",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert sim.returncode == 0, sim.stdout[-3000:] + sim.stderr[-3000:]
    assert "unexpected replies" in sim.stdout
    status = subprocess.run(
        [sys.executable, "-m", "vhub.cli", "status", "--ready-file", str(ready)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    for name in info["services"]:
        assert name in status.stdout
    assert " no " not in status.stdout
