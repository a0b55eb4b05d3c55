"""The shipped central and hub configs (deploy/nats) run for real on loopback: a central server and
a provincial hub as its leaf node, each with its own JetStream domain and store.

The configs are the shipped files with only what a test machine needs changed (listen addresses,
store dirs, no monitoring port, no cluster routes for a one-node central); every change is checked
to have matched, so a drifting deploy file fails here loudly instead of being silently ignored.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from shared.natsserver import NatsServer, run_nats_server

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nats"
USERS = ("REGISTRY", "DISPATCH", "REPORTING", "INGEST", "OPERATOR", "SYS", "LEAF")


def secrets() -> dict[str, str]:
    """The passwords accounts.conf and the leaf link read from the environment."""
    return {f"VHUB_{user}_PASSWORD": f"test-{user.lower()}" for user in USERS}


def _sub(text: str, pattern: str, replacement: str, flags: int = 0) -> str:
    new, n = re.subn(pattern, replacement, text, flags=flags)
    if n != 1:
        raise AssertionError(f"deploy config drifted: {pattern!r} matched {n} times")
    return new


def _local(text: str, store_dir: Path, port: int) -> str:
    text = _sub(text, r"^listen: 0\.0\.0\.0:4222$", f'listen: "127.0.0.1:{port}"', re.M)
    text = _sub(text, r"^http: 0\.0\.0\.0:8222\n", "", re.M)  # no monitoring port to collide on
    return _sub(text, r"store_dir: /data/jetstream", f'store_dir: "{store_dir}"')


def central_config(store_dir: Path, *, leaf_port: int, port: int = -1) -> str:
    """deploy/nats/central-1.conf as ONE node: its cluster block (routes to the other nodes) removed."""
    text = _local((DEPLOY / "central-1.conf").read_text(), store_dir, port)
    text = _sub(text, r"^cluster \{.*?^\}\n", "", re.M | re.S)
    return _sub(text, r"listen: 0\.0\.0\.0:7422", f'listen: "127.0.0.1:{leaf_port}"')


def hub_config(store_dir: Path, *, port: int = -1) -> str:
    """deploy/nats/hub.conf as is, but local (its hub and central URL come from the environment)."""
    return _local((DEPLOY / "hub.conf").read_text(), store_dir, port)


def start_configured_server(
    workdir: Path, config: str, env: dict[str, str], *, timeout: float = 15.0
) -> NatsServer:
    """Start the wheel's nats-server on ``config`` (accounts.conf beside it); wait for its ports file."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEPLOY / "accounts.conf", workdir / "accounts.conf")
    return run_nats_server(workdir, config, env=env, timeout=timeout)
