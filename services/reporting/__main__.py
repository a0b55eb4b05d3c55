"""``python -m services.reporting``: one reporting instance, configured by ``VHUB_*``, until a signal.

Streams are provisioned by the stack (``shared.streams.provision``) before services start; set
``VHUB_PROVISION_STREAMS=true`` to have this process create or update them itself (dev only).
"""

from __future__ import annotations

import asyncio

from services.reporting.app import run
from shared.logging import configure_logging
from shared.settings import load_settings


def main() -> None:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level, service="reporting")
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
