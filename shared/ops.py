"""The ops HTTP endpoints every service serves (``/healthz``, ``/readyz``, ``/metrics``) and the
uvicorn server that runs them inside the service's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from nats.aio.client import Client
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict

from shared.runtime import Readiness, link_of

HEALTH_GRACE_S = 5.0  # seconds without NATS before /healthz fails


class Alive(BaseModel):
    status: str


class Ready(BaseModel):
    """Whether this instance should get traffic; services add their own detail (lag, position)."""

    model_config = ConfigDict(extra="allow")
    ready: bool
    nats_connected: bool


def ops_router(nc: Client, readiness: Readiness) -> APIRouter:
    """``/healthz`` (alive), ``/readyz`` (connected and caught up), ``/metrics`` (Prometheus)."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=Alive)
    async def healthz() -> JSONResponse:
        # 503 once the link has been down HEALTH_GRACE_S or nats-py closed it, so compose or
        # Kubernetes restart the process (a reconnect after a server restart takes about a second)
        down_s = link_of(nc).down_for()
        if down_s > HEALTH_GRACE_S:
            body = {"status": "nats_down", "down_s": round(min(down_s, 1e9), 1)}
            return JSONResponse(body, status_code=503)
        return JSONResponse({"status": "alive"})

    @router.get(
        "/readyz", response_model=Ready, responses={503: {"model": Ready, "description": "not ready"}}
    )
    async def readyz() -> JSONResponse:
        ok, detail = await readiness() if nc.is_connected else (False, {})
        body = {"ready": ok and nc.is_connected, "nats_connected": nc.is_connected, **detail}
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    @router.get("/metrics", response_class=PlainTextResponse)  # documented as text/plain
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
