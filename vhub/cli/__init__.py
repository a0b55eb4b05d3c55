"""``vhub``: the one command line of the project (typer + rich).

The commands live in small modules beside this one, each registering on the root group
(:data:`vhub.cli.app.app`); importing them here is what mounts them.
"""

from __future__ import annotations

from shared.logging import configure_logging
from vhub.cli import (  # noqa: F401  (each registers its commands)
    data,
    dlq,
    duplicates,
    explain,
    hubs,
    privacy,
    replay,
    simulation,
    stack,
    status,
)
from vhub.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """The ``vhub`` console script."""
    configure_logging("console", "warning")
    app()
