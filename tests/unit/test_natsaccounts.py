"""The pinned server accepts every shipped accounts file (tests/unit/test_deploy.py checks that they are
what deploy/hubs.toml generates); none keeps a blanket right of the old file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shared.natsserver import server_binary
from vhub.natsaccounts import render_accounts, service_permissions
from vhub.natsrights import Streams, consumers

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


@pytest.mark.parametrize("service", ["registry", "dispatch", "reporting"])
def test_no_service_may_create_alter_or_delete_a_consumer(service: str) -> None:
    """Every consumer a service reads through is the operator's (a create request may name any
    deliver subject): the service user is allowed info, pull, ack and reset on its own, nothing else."""
    streams = Streams("hcm", "VHUB_CENTRAL", ("hn", "hcm"))
    publish, _, _ = service_permissions(service, streams)
    api = [s for s in publish if s.startswith("$JS.API.CONSUMER.")]
    verbs = {s.split(".")[3] for s in api}
    assert verbs <= {"INFO", "MSG", "RESET"}, verbs
    assert not [s for s in api if ".CREATE." in s or ".DELETE." in s], api
    named = {(s.split(".")[-2], s.split(".")[-1]) for s in api if ".INFO." in s}
    assert named == set(consumers(service, streams)), "a right on a consumer the service does not read"
