"""Fixtures shared by every suite: a real NATS server, a hub of one's own per test, PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from nats.aio.client import Client

from shared.eventstore import EventStore
from shared.settings import Settings, load_settings
from shared.streams import provision
from tests.support.nats import nats_url_for_tests
from tests.support.postgres import postgres_admin_url

# Property tests (hypothesis): one profile mechanism for every suite. "default" keeps `make test`
# short; `make fuzz` runs the property tests under "fuzz" (VHUB_HYPOTHESIS_PROFILE=fuzz). A test that
# sends N messages per example scales with max_examples, so the profile also says how big a run is.
# No deadline per example: a real server under a loaded 2-core machine has honest pauses, and each
# property bounds its own reply time instead.
_QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
hypothesis_settings.register_profile("default", max_examples=60, deadline=None, suppress_health_check=_QUIET)
hypothesis_settings.register_profile(
    "fuzz", max_examples=2_500, deadline=None, suppress_health_check=_QUIET, print_blob=True
)
hypothesis_settings.load_profile(os.environ.get("VHUB_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real NATS server (JetStream) for the whole session."""
    with nats_url_for_tests(tmp_path_factory.mktemp("nats")) as url:
        yield url


@pytest.fixture
def hub() -> str:
    """A hub code of this test's own, so its streams and subjects meet no other test's."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def settings(nats_url: str, hub: str, tmp_path: Path) -> Settings:
    return load_settings(
        env="test",
        hub=hub,
        nats_url=nats_url,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}",
        log_format="console",
        http_port=0,  # services' HTTP on a free port: never a fixed one (other runs share the host)
    )


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    conn = await nats.connect(nats_url)
    yield conn
    await conn.drain()


@pytest.fixture
async def provisioned(nc: Client, settings: Settings) -> AsyncIterator[Settings]:
    """Settings whose hub streams exist; they are deleted after the test."""
    js = nc.jetstream()
    await provision(js, settings)
    yield settings
    for name in (settings.event_stream, settings.ingest_stream, settings.dlq_stream):
        with contextlib.suppress(Exception):  # best-effort cleanup of a throwaway stream
            await js.delete_stream(name)


@pytest.fixture
def store(nc: Client, provisioned: Settings) -> EventStore:
    return EventStore(nc, stream=provisioned.event_stream, hub=provisioned.hub)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str | None]:
    with postgres_admin_url() as url:
        yield url
