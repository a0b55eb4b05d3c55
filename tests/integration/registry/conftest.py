"""A real registry (command bus on its own connection) against the real nats-server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from services.registry.app import RegistryApp
from shared.commands import CommandBus
from shared.settings import Settings

Send = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def start_registry(
    nats_url: str, provisioned: Settings
) -> AsyncIterator[Callable[[], Awaitable[CommandBus]]]:
    """Start registry instances (each with its own connection and caches) on demand."""
    running: list[tuple[RegistryApp, Client]] = []

    async def start() -> CommandBus:
        conn = await nats.connect(nats_url)
        app = RegistryApp(conn, provisioned)
        await app.start()
        running.append((app, conn))
        return app.bus

    yield start
    for app, conn in running:
        await app.stop()
        await conn.drain()


@pytest.fixture
async def registry(start_registry: Callable[[], Awaitable[CommandBus]]) -> CommandBus:
    return await start_registry()


@pytest.fixture
def send(nc: Client) -> Send:
    async def send(name: str, body: dict[str, Any] | bytes, timeout: float = 10.0) -> dict[str, Any]:
        raw = body if isinstance(body, bytes) else json.dumps(body, default=str).encode()
        reply = await nc.request(f"vhub.cmd.registry.{name}", raw, timeout=timeout)
        result: dict[str, Any] = json.loads(reply.data)
        return result

    return send
