"""Reporting fixtures: the behaviour suites run once per database back end."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.envelope import Envelope
from shared.eventstore import EventStore
from shared.settings import Settings, load_settings
from tests.support.postgres import create_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path, pg_admin_url: str | None) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    if pg_admin_url is None:
        pytest.skip("no PostgreSQL (set VHUB_TEST_DATABASE_URL)")
    return await create_database(pg_admin_url)


@pytest.fixture
def rsettings(provisioned: Settings, database_url: str) -> Settings:
    """Provisioned hub settings on this test's database, the API on a free port."""
    return load_settings(**{**provisioned.model_dump(), "database_url": database_url, "http_port": 0})


async def publish(
    store: EventStore, log: list[tuple[str, Envelope]], last: dict[str, int] | None = None
) -> int:
    """Append every event in order, as the owning service would (OCC per subject)."""
    last = {} if last is None else last
    seq = 0
    for subject, env in log:
        result = await store.append(subject, [env], expected=last.get(subject, 0))
        last[subject] = seq = result.last_seq
    return seq
