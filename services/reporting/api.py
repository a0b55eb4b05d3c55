"""The read-only HTTP API (GET only; OpenAPI at /openapi.json).

Every answer carries its freshness (the log position it reflects and when the last applied event
was recorded), in the body and in ``Vhub-Position``/``Vhub-Last-Event-At`` headers, and the same
per hub (``freshness.hubs``, ``Vhub-Hub-Positions``): the hub's own log position, its last event's
time, its lag when known, and whether its source is active or since when it has been cut off.
``min_position`` (``1234``, or ``hcm:1234``, the version a hub's reply returned, or several)
holds a request until the projection has caught up, or answers 503 ``projection_behind`` with
``Retry-After``. Unknown province or commune codes answer 404, refused parameters 422. Lists also
come as CSV (``?format=csv``, ``text/csv``), streamed from the database cursor.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from services.reporting import dashboard
from services.reporting.consumer import PositionWatch
from services.reporting.fastpath import KeptAnswers
from services.reporting.health import ServiceHealth
from services.reporting.links import HubLinks
from services.reporting.national import NationalIndex
from services.reporting.queries import ReadModel
from services.reporting.routers import ROUTERS
from services.reporting.routers.common import Reads


def build_api(
    read: ReadModel,
    watch: PositionWatch,
    *,
    max_wait_s: float = 5.0,
    extra_routers: list[APIRouter] | None = None,
    hub: str = "",
    links: HubLinks | None = None,
    health: ServiceHealth | None = None,
    national: NationalIndex | None = None,
) -> FastAPI:
    """The reporting app over ``read``: the /v1 routers, then ``extra_routers`` (operations)."""
    app = FastAPI(title="vhub reporting", version="1", docs_url=None, redoc_url=None, description=__doc__)
    app.state.reads = reads = Reads(read, watch, max_wait_s, hub, links, national)
    app.add_middleware(KeptAnswers, reads=reads)  # kept answers before routing (fastpath.py)
    app.state.health = health  # the dashboard's service health ($SRV), when watched
    for router in [*ROUTERS, *(extra_routers or [])]:
        app.include_router(router)
    dashboard.mount(app)  # / and /docs (not in the OpenAPI document: pages, not API)
    return app
