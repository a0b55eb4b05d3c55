"""A small client of vhub's public command API (what an outside system would write)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import nats
from nats.aio.client import Client


class CommandClient:
    def __init__(self, nc: Client, timeout: float = 10.0) -> None:
        self._nc = nc
        self._timeout = timeout

    @classmethod
    async def connect(cls, url: str) -> CommandClient:
        return cls(await nats.connect(url, name="vhub-cli"))

    async def send(
        self, context: str, name: str, body: dict[str, Any], command_id: str | None = None
    ) -> dict[str, Any]:
        payload = {"command_id": command_id or uuid.uuid4().hex, **body}
        reply = await self._nc.request(
            f"vhub.cmd.{context}.{name}", json.dumps(payload, default=str).encode(), timeout=self._timeout
        )
        result: dict[str, Any] = json.loads(reply.data)
        return result

    async def close(self) -> None:
        await self._nc.drain()
