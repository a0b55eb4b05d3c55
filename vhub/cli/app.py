"""The root ``vhub`` command group and what every command module shares (console, options).

Each command module under ``vhub/cli/`` registers its commands on :data:`app`; ``vhub/cli/__init__``
imports them all, so adding a command is a new module plus one import line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import nats
import typer
from nats.aio.client import Client
from rich.console import Console

from shared.settings import Settings, load_settings

app = typer.Typer(help="vhub: the youth-volunteer campaign hub.", no_args_is_help=True)
# piped (a log, a script, a test) rich would assume 80 columns and fold every table
console = Console(width=None if sys.stdout.isatty() else 200)

NatsPort = Annotated[
    int | None, typer.Option(help="NATS port (default 4222, or a free one when taken; 0: any free port).")
]
HttpPort = Annotated[int | None, typer.Option(help="First HTTP port (default 8080, next ones up).")]
DataDir = Annotated[Path | None, typer.Option(help="JetStream store and SQLite files.")]
ReadyFile = Annotated[Path | None, typer.Option(help="Write NATS and service URLs here once ready.")]
NatsUrl = Annotated[str | None, typer.Option(help="NATS URL (default: VHUB_NATS_URL).")]


def nats_url_or_default(nats_url: str | None) -> str:
    """The given URL, else the settings' ``VHUB_NATS_URL``."""
    return nats_url or load_settings().nats_url


def read_ready_file(path: Path) -> dict[str, Any]:
    """The ready file ``vhub dev`` writes: ``{"nats_url": ..., "services": {name: url}}``."""
    info: dict[str, Any] = json.loads(path.read_text())
    return info


async def operator_connection(settings: Settings, name: str) -> Client:
    """A connection for an operator's command: the settings' URLs and credentials, reconnecting
    quietly (a ``--watch`` outlives a server restart; a one-shot command fails on its own)."""

    async def quiet(*_: object) -> None:
        return None

    password = settings.nats_password.get_secret_value() if settings.nats_password else None
    return await nats.connect(
        [url.strip() for url in settings.nats_url.split(",")],
        name=name,
        user=settings.nats_user,
        password=password,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=quiet,
        disconnected_cb=quiet,
        reconnected_cb=quiet,
        closed_cb=quiet,
    )
