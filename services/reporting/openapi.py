"""The reporting service's OpenAPI document, as its composition root serves it.

``python -m services.reporting.openapi > docs/openapi.json`` (``make docs``) writes the committed
copy; a test fails when it differs from what the code serves. The document comes from the app
:class:`ReportingApp` builds (on a client that never connects), so every router the service
registers, its extra ones included (operations, ``/v1/provenance``), is in it.
"""

from __future__ import annotations

import json
from typing import Any

from nats.aio.client import Client

from services.reporting.app import ReportingApp
from shared.settings import load_settings


def document() -> dict[str, Any]:
    """The app's OpenAPI, built without a database or NATS connection (nothing is served)."""
    settings = load_settings(env="test", database_url="sqlite+aiosqlite://")  # lazy: never connects
    return ReportingApp(Client(), settings).api.openapi()


def render() -> str:
    """The document as committed in docs/openapi.json."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
