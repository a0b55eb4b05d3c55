"""Dispatch against a real nats-server: registry facts appended as the registry would, replicas
started in-process, commands sent over NATS request/reply."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from nats.aio.client import Client

from services.dispatch.app import DispatchApp
from services.dispatch.clock import ManualClock
from services.dispatch.domain.model import LOCAL_TZ
from shared.envelope import Envelope, command_subject, derive_id, event_subject
from shared.events import Event
from shared.events.registry import (
    BorderCommunesDesignated,
    Focus,
    ServicePointRegistered,
    TeamDisbanded,
    TeamFormed,
)
from shared.eventstore import EventStore
from shared.hosting import hosted
from shared.settings import Settings

NOW = datetime(2025, 7, 10, 12, 0, tzinfo=LOCAL_TZ)
Ask = Callable[..., Awaitable[dict[str, Any]]]


class Registry:
    """Appends registry facts to the hub's stream, on the subjects the registry uses."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def record(self, aggregate: str, aggregate_id: str, event: Event) -> int:
        subject = event_subject(self.store.hub, "registry", aggregate, aggregate_id)
        last = await self.store.last(subject)
        command_id = uuid.uuid4().hex
        env = Envelope(
            event_id=derive_id(self.store.hub, command_id, aggregate_id, "0"),
            event_type=event.event_type,
            schema_version=event.schema_version,
            aggregate_id=aggregate_id,
            hub=self.store.hub,
            occurred_at=NOW,
            recorded_at=NOW,
            command_id=command_id,
            correlation_id=command_id,
            actor="test",
            data=event.model_dump(mode="json"),
        )
        result = await self.store.append(subject, [env], expected=last[0].seq if last else 0)
        return result.last_seq

    async def team(
        self,
        team_id: str,
        *,
        province: str = "01",
        commune: str | None = "00004",
        focus: Focus = "admin_support",
    ) -> int:
        return await self.record(
            "team",
            team_id,
            TeamFormed(
                team_id=team_id,
                name=f"Đội {team_id}",
                province_code=province,
                commune_code=commune,
                focus=focus,
                organisation="Đoàn phường",
            ),
        )

    async def disband(self, team_id: str) -> int:
        return await self.record("team", team_id, TeamDisbanded(team_id=team_id, reason="done"))

    async def point(self, point_id: str, *, province: str = "01", commune: str = "00004") -> int:
        return await self.record(
            "service_point",
            point_id,
            ServicePointRegistered(
                service_point_id=point_id,
                name=f"Điểm {point_id}",
                kind="commune_one_stop",
                province_code=province,
                commune_code=commune,
            ),
        )

    async def border(self, *communes: str) -> int:
        return await self.record(
            "campaign", "border_communes", BorderCommunesDesignated(commune_codes=list(communes))
        )


@pytest.fixture
def registry(store: EventStore) -> Registry:
    return Registry(store)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


Start = Callable[..., Awaitable[DispatchApp]]


@pytest.fixture
async def start_dispatch(provisioned: Settings, clock: ManualClock) -> AsyncIterator[Start]:
    """Starts dispatch replicas on the test's hub, as the process does (shared.hosting), with the
    test's clock; all are stopped at the end."""
    async with contextlib.AsyncExitStack() as running:

        async def start(instance: str = "a", **overrides: Any) -> DispatchApp:
            settings = provisioned.model_copy(update={"instance": instance, "http_port": 0, **overrides})
            return await running.enter_async_context(
                hosted(settings, f"dispatch-{instance}", lambda nc, s: DispatchApp(nc, s, clock=clock))
            )

        yield start


@pytest.fixture
async def dispatch(start_dispatch: Start) -> DispatchApp:
    return await start_dispatch()


@pytest.fixture
def ask(nc: Client) -> Ask:
    async def send(name: str, **body: Any) -> dict[str, Any]:
        reply = await nc.request(command_subject("dispatch", name), json.dumps(body).encode(), timeout=15)
        out: dict[str, Any] = json.loads(reply.data)
        return out

    return send


async def known(app: DispatchApp, seq: int) -> None:
    """Wait (with a deadline) until a replica's projection has applied ``seq``."""
    assert await app.projection.wait_for(seq, within=10), f"projection never reached {seq}"
