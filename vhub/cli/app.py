"""The root ``vhub`` command group and what every command module shares (console, options).

Each command module under ``vhub/cli/`` registers its commands on :data:`app`; ``vhub/cli/__init__``
imports them all, so adding a command is a new module plus one import line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from shared.settings import load_settings

app = typer.Typer(help="vhub: the youth-volunteer campaign hub.", no_args_is_help=True)
console = Console()

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
