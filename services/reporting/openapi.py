"""The reporting service's OpenAPI document, as its composition root serves it.

``python -m services.reporting.openapi > docs/openapi.json`` (``make docs``) writes the committed
copy; a test fails when it differs from what the code serves.
"""

from __future__ import annotations

import json
from typing import Any

from nats.aio.client import Client

from services.reporting.api import build_api
from services.reporting.consumer import PositionWatch
from services.reporting.db import make_engine
from services.reporting.provenance import LogLookup
from services.reporting.provenance_api import provenance_router
from services.reporting.queries import ReadModel
from services.reporting.restatements_api import restatements_router
from shared.ops import ops_router


async def _never_asked() -> tuple[bool, dict[str, Any]]:
    raise AssertionError("documentation only: never served")


def document() -> dict[str, Any]:
    """The app's OpenAPI, built without a database or NATS connection (nothing is served)."""
    engine = make_engine("sqlite+aiosqlite://", writer=False)  # lazy: never connects
    nc = Client()
    read, log = ReadModel(engine), LogLookup(nc.jetstream(), "VHUB_DOCS")  # never read
    routers = [ops_router(nc, _never_asked), provenance_router(read, log), restatements_router(read, log)]
    app = build_api(read, PositionWatch(), extra_routers=routers)
    return app.openapi()


def render() -> str:
    """The document as committed in docs/openapi.json."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
