"""The generated central and hub configs (vhub/deploy/natsconf.py, shipped in deploy/nats) rendered
for loopback: the same text with only where a server listens and stores changed (127.0.0.1, free
or given ports, a temporary store, no monitoring port to collide on).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from shared.natsserver import NatsServer, run_nats_server
from vhub.deploy.hublist import HubList, load_hub_list
from vhub.deploy.natsconf import LEAF_URLS_VAR, ClusterListen, Listen, central_conf, hub_conf, leaf_urls_value

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nats"
USERS = ("REGISTRY", "DISPATCH", "REPORTING", "INGEST", "OPERATOR", "SYS", "LEAF")
LOOPBACK = "127.0.0.1"


def secrets() -> dict[str, str]:
    """The passwords accounts.conf and the leaf link read from the environment."""
    return {f"VHUB_{user}_PASSWORD": f"test-{user.lower()}" for user in USERS}


def hub_list() -> HubList:
    return load_hub_list()


def central_config(
    store_dir: Path,
    *,
    leaf_port: int,
    port: int = -1,
    index: int = 1,
    cluster: ClusterListen | None = None,
) -> str:
    """Central node ``index`` as generated; alone (``cluster=None``) or with loopback routes."""
    listen = Listen(LOOPBACK, port, None, str(store_dir))
    return central_conf(hub_list(), index, listen, leaf_port=leaf_port, leaf_host=LOOPBACK, cluster=cluster)


def hub_config(store_dir: Path, *, port: int = -1, hub: str = "hcm") -> str:
    """The generated leaf-node config of ``hub``; its links come from ``VHUB_CENTRAL_LEAF_URLS``."""
    return hub_conf(hub_list().hub(hub), Listen(LOOPBACK, port, None, str(store_dir)))


def leaf_env(urls: list[str]) -> dict[str, str]:
    """A hub server's environment: the secrets and its links to central (``nats-leaf://`` URLs)."""
    return {**secrets(), LEAF_URLS_VAR: leaf_urls_value(urls)}


def leaf_url(port: int) -> str:
    return f"nats-leaf://leaf:{secrets()['VHUB_LEAF_PASSWORD']}@{LOOPBACK}:{port}"


def start_configured_server(
    workdir: Path, config: str, env: dict[str, str], *, timeout: float = 15.0
) -> NatsServer:
    """Start the wheel's nats-server on ``config`` (the shipped accounts-<hub>.conf files beside it,
    one of which it includes); wait for its ports file.
    A single ``VHUB_CENTRAL_LEAF_URL`` (the former one-hub config's variable) becomes the list."""
    workdir.mkdir(parents=True, exist_ok=True)
    for accounts in DEPLOY.glob("accounts-*.conf"):
        shutil.copyfile(accounts, workdir / accounts.name)
    if LEAF_URLS_VAR not in env and "VHUB_CENTRAL_LEAF_URL" in env:
        env = {**env, LEAF_URLS_VAR: leaf_urls_value([env["VHUB_CENTRAL_LEAF_URL"]])}
    return run_nats_server(workdir, config, env=env, timeout=timeout)
