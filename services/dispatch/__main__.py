"""``python -m services.dispatch``: run one dispatch replica until SIGTERM or SIGINT.

Streams are provisioned by the stack (``shared.streams.provision``) before services start; set
``VHUB_PROVISION_STREAMS=true`` to have this process create or update them itself (dev only).
"""

from __future__ import annotations

import asyncio

from services.dispatch.app import run
from shared.logging import configure_logging
from shared.runtime import stop_on_signals
from shared.settings import load_settings


async def _main() -> None:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level, service="dispatch")
    await run(settings, stop_on_signals())


def main() -> None:
    asyncio.run(_main())


if __name__ == "__main__":
    main()
