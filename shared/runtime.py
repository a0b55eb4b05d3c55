"""What every service process shares: the NATS connection, the ops HTTP endpoints, signals."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import nats
import structlog
import uvicorn
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from nats.aio.client import Client
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.settings import Settings

log = structlog.get_logger(__name__)
Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


async def connect_nats(settings: Settings, name: str) -> Client:
    """Connect, and keep reconnecting for as long as the process lives."""

    async def on_error(err: Exception) -> None:
        log.warning("nats_error", error=str(err))

    async def on_disconnect() -> None:
        log.warning("nats_disconnected")

    async def on_reconnect() -> None:
        log.info("nats_reconnected")

    password = settings.nats_password.get_secret_value() if settings.nats_password else None
    # each service user gets an inbox prefix of its own, so deploy/nats/accounts.conf can let it
    # publish and subscribe on its own inboxes only (never on other clients' reply subjects)
    inbox = f"_INBOX_{settings.nats_user}" if settings.nats_user else "_INBOX"
    return await nats.connect(
        [url.strip() for url in settings.nats_url.split(",")],  # a cluster: several seed URLs
        name=name,
        user=settings.nats_user,
        password=password,
        inbox_prefix=inbox,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
    )


async def barrier(nc: Client, within: float = 5.0) -> None:
    """Return once the server has processed everything this connection sent before the call.

    ``nc.flush()`` is not enough in nats-py 2.16: its PING is written to the socket at once while
    earlier SUBs may still wait in the pending buffer, so the PONG can come back before the server
    has seen them (a command bus then answers "no responders" for a moment). A message to our own
    inbox travels behind everything already queued, so its arrival proves the server has it all.
    """
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, max_msgs=1)
    try:
        await nc.publish(inbox, b"")
        await sub.next_msg(timeout=within)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


def ops_router(nc: Client, readiness: Readiness) -> APIRouter:
    """``/healthz`` (alive), ``/readyz`` (connected and caught up), ``/metrics`` (Prometheus)."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        ok, detail = await readiness() if nc.is_connected else (False, {})
        body = {"ready": ok and nc.is_connected, "nats_connected": nc.is_connected, **detail}
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def ops_app(nc: Client, readiness: Readiness, title: str) -> FastAPI:
    app = FastAPI(title=title, docs_url=None, redoc_url=None)
    app.include_router(ops_router(nc, readiness))
    return app


class _Server(uvicorn.Server):
    """uvicorn that leaves signals to the service (it would replace our handlers otherwise)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """uvicorn inside this process's event loop."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the bind error
            await asyncio.sleep(0.01)  # uvicorn offers no start event; bounded by bind failure

    @property
    def port(self) -> int:
        sockets = self._server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task:
            await self._task


def instance_name(settings: Settings) -> str:
    """This replica's name: ``VHUB_INSTANCE``, else host and process id (safe in consumer names)."""
    name = settings.instance or f"{socket.gethostname()}-{os.getpid()}"
    return re.sub(r"[^A-Za-z0-9_\-]", "_", name)


def stop_on_signals() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
