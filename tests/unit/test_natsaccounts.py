"""The pinned server accepts every shipped accounts file (tests/unit/test_deploy.py checks that they are
what deploy/hubs.toml generates); none keeps a blanket right of the old file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shared.natsserver import server_binary
from vhub.natsaccounts import render_accounts

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nats"
FILES = sorted(p.name for p in DEPLOY.glob("accounts-*.conf"))
SECRETS = {
    f"VHUB_{n}_PASSWORD": "x" for n in ("REGISTRY", "DISPATCH", "REPORTING", "INGEST", "OPERATOR", "SYS")
}


@pytest.mark.parametrize("name", FILES)
def test_the_pinned_server_accepts_each(tmp_path: Path, name: str) -> None:
    (tmp_path / "accounts.conf").write_text((DEPLOY / name).read_text())
    (tmp_path / "s.conf").write_text("listen: 127.0.0.1:-1\njetstream: enabled\ninclude ./accounts.conf\n")
    result = subprocess.run(
        [str(server_binary()), "-t", "-c", "s.conf"],
        cwd=tmp_path,
        env=SECRETS,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_hub_wildcard_and_no_blanket_consumer_rights() -> None:
    """The faults seen: `vhub.evt.*...` (any hub), `$JS.API.CONSUMER.>`, `_INBOX.>`, `DIRECT.GET.>`."""
    text = render_accounts("hcm")
    for broad in (
        '"vhub.evt.*',
        '"vhub.dlq.*',
        '"$JS.API.CONSUMER.>"',
        '"_INBOX.>"',
        "DIRECT.GET.>",
        '"$JS.ACK.>"',
    ):
        assert broad not in text, broad
