"""The bench's peer (the eventsourcing library's idiomatic volunteer workload) runs and is exact on
both back ends, so `make bench`'s side-by-side rows compare like with like."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.peer import (
    PostgresCountsView,
    SQLiteCountsView,
    Volunteers,
    postgres_env,
    sqlite_env,
    workload,
)
from tests.support.postgres import create_database


def test_the_peer_refuses_a_second_registration_of_a_phone(tmp_path: Path) -> None:
    """Given a registered phone, when it registers again, then the peer records nothing new."""
    app = Volunteers(env=sqlite_env(str(tmp_path / "peer.db")))
    assert app.register("Nguyễn Văn A", "+84912345678", "Hà Nội", "00004") is not None
    assert app.register("Nguyễn Văn B", "+84912345678", "Hà Nội", "00004") is None
    assert app.recorder.max_notification_id() == 2  # one volunteer and its phone claim


def test_the_peer_projects_every_registration_on_sqlite(tmp_path: Path) -> None:
    """When the peer registers for a moment with 1 and 2 callers, then its projection counts
    every volunteer (workload raises otherwise) over both events of each registration."""
    out = workload(sqlite_env(str(tmp_path / "peer.db")), SQLiteCountsView, 0.3, (1, 2))
    assert out["register@1"] > 0
    assert out["register@2"] > 0
    assert out["events"] % 2 == 0
    assert out["projected_ev_s"] > 0


@pytest.mark.postgres
async def test_the_peer_projects_every_registration_on_postgres(pg_admin_url: str | None) -> None:
    """The same on PostgreSQL, through the library's ProjectionRunner."""
    if pg_admin_url is None:
        pytest.fail("no PostgreSQL: set VHUB_TEST_DATABASE_URL")
    url = (await create_database(pg_admin_url)).replace("+asyncpg", "", 1)
    out = workload(postgres_env(url), PostgresCountsView, 0.3, (1, 2))
    assert out["events"] > 0
    assert out["events"] % 2 == 0
