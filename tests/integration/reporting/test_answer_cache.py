"""The read path: between two projection commits an answer is the same bytes, served without a
database round trip; the next commit (or a consistency token ahead of it) reads afresh."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from services.reporting.app import ReportingApp
from shared.eventstore import EventStore
from shared.hosting import hosted
from shared.settings import Settings
from tests.integration.reporting.campaign import generate
from tests.integration.reporting.conftest import publish
from tests.support.waiting import eventually


@pytest.fixture
async def service(rsettings: Settings) -> AsyncIterator[ReportingApp]:
    async with hosted(rsettings, "reporting", lambda nc, s: ReportingApp(nc, s, max_wait_s=5)) as svc:
        yield svc


@contextmanager
def statements(svc: ReportingApp) -> Iterator[list[str]]:
    """Every SQL statement the API's read engine sends while the block runs."""
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(svc.reader.sync_engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(svc.reader.sync_engine, "before_cursor_execute", note)


async def caught_up(svc: ReportingApp, seq: int) -> None:
    async def done() -> bool:
        return (await svc.store.position()).position >= seq

    await eventually(done, f"projection at {seq}", 30)


@pytest.mark.parametrize("path", ["/v1/summary", "/v1/provinces"])
async def test_answers_between_commits_are_the_same_bytes_without_a_query(
    service: ReportingApp, store: EventStore, rsettings: Settings, path: str
) -> None:
    """Given a caught-up projection and one answer read, when the same request comes again
    before any commit, then it gets the same bytes and the database is not asked; when a new
    event is committed, the answer is read afresh and says the new position."""
    log = generate(rsettings.hub, volunteers=40, teams=4, days=2)
    seen: dict[str, int] = {}
    last = await publish(store, log[:-1], seen)
    await caught_up(service, last)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.server.port}") as http:
        first = await http.get(path)
        assert first.status_code == 200

        # the checkpoint row is visible a moment before the commit's generation moves (and the
        # hubs' link state may move once after catching up): wait until an answer is kept
        async def kept_answer_served() -> bool:
            nonlocal first
            with statements(service) as sent:
                again = await http.get(path)
            served = not sent and again.content == first.content
            first = again
            return served

        await eventually(kept_answer_served, "a kept answer served without a query", 30)
        with statements(service) as sent:
            again = [await http.get(path) for _ in range(5)]
        assert sent == []
        assert {r.content for r in again} == {first.content}
        assert {r.headers["Vhub-Position"] for r in again} == {str(last)}

        newer = await publish(store, log[-1:], seen)
        with statements(service) as sent:
            fresh = await http.get(path, params={"min_position": newer})
        assert fresh.status_code == 200
        assert sent, "a token ahead of the kept answer must read the database"
        assert fresh.headers["Vhub-Position"] == str(newer)
        assert fresh.json()["freshness"]["position"] == newer
