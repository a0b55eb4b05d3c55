"""The ops HTTP endpoints every service serves (``/healthz``, ``/readyz``, ``/metrics``) and the
uvicorn server that runs them inside the service's event loop.

Registry and dispatch serve nothing else over HTTP, so their app is plain Starlette
(:func:`ops_app`): FastAPI would cost them ~10 MB of resident memory for three routes. Reporting
documents the same endpoints in its OpenAPI schema through :func:`ops_router`, which imports
FastAPI only when it is called.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

import uvicorn
from nats.aio.client import Client
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from shared.runtime import Readiness, link_of

if TYPE_CHECKING:
    from fastapi import APIRouter

HEALTH_GRACE_S = 5.0  # seconds without NATS before /healthz fails


class Alive(BaseModel):
    status: str


class Ready(BaseModel):
    """Whether this instance should get traffic; services add their own detail (lag, position)."""

    model_config = ConfigDict(extra="allow")
    ready: bool
    nats_connected: bool


class OpsEndpoints:
    """The three answers, whichever framework routes to them."""

    def __init__(self, nc: Client, readiness: Readiness) -> None:
        self._nc = nc
        self._readiness = readiness

    async def healthz(self) -> JSONResponse:
        # 503 once the link has been down HEALTH_GRACE_S or nats-py closed it, so compose or
        # Kubernetes restart the process (a reconnect after a server restart takes about a second)
        down_s = link_of(self._nc).down_for()
        if down_s > HEALTH_GRACE_S:
            body = {"status": "nats_down", "down_s": round(min(down_s, 1e9), 1)}
            return JSONResponse(body, status_code=503)
        return JSONResponse({"status": "alive"})

    async def readyz(self) -> JSONResponse:
        nc = self._nc
        ok, detail = await self._readiness() if nc.is_connected else (False, {})
        body = {"ready": ok and nc.is_connected, "nats_connected": nc.is_connected, **detail}
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    async def metrics(self) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def ops_router(nc: Client, readiness: Readiness) -> APIRouter:
    """``/healthz`` (alive), ``/readyz`` (connected and caught up), ``/metrics`` (Prometheus),
    for a FastAPI app that documents them (reporting's)."""
    from fastapi import APIRouter
    from fastapi.responses import PlainTextResponse

    ops = OpsEndpoints(nc, readiness)
    router = APIRouter(tags=["operations"])
    router.add_api_route("/healthz", ops.healthz, methods=["GET"], response_model=Alive)
    router.add_api_route(
        "/readyz",
        ops.readyz,
        methods=["GET"],
        response_model=Ready,
        responses={503: {"model": Ready, "description": "not ready"}},
    )
    # documented as text/plain
    router.add_api_route("/metrics", ops.metrics, methods=["GET"], response_class=PlainTextResponse)
    return router


def ops_app(nc: Client, readiness: Readiness) -> ASGIApp:
    """The ops endpoints as a service's whole HTTP app (registry, dispatch)."""
    ops = OpsEndpoints(nc, readiness)

    def get(answer: Callable[[], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(_: Request) -> Response:
            return await answer()

        return endpoint

    paths = {"/healthz": ops.healthz, "/readyz": ops.readyz, "/metrics": ops.metrics}
    return Starlette(routes=[Route(path, get(answer), methods=["GET"]) for path, answer in paths.items()])


class _Server(uvicorn.Server):
    """uvicorn that leaves signals to the service (it would replace our handlers otherwise)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """uvicorn inside this process's event loop."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
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
