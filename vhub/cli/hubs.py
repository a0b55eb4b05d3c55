"""``vhub hub cut|heal|status``: a hub's leaf link in the running ``vhub dev --hubs`` stack."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import platformdirs
import typer
from rich.table import Table

from vhub.cli.app import app, console

hub_app = typer.Typer(help="Linked hubs of `vhub dev --hubs`: cut or heal a hub's link, see them.")
app.add_typer(hub_app, name="hub")
StackDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="The stack's data directory (default: the newest of vhub dev/demo --hubs)."
    ),
]


def _dir(data_dir: Path | None) -> Path:
    """The given directory, else the newest of `vhub dev --hubs`'s and `vhub demo --hubs`'s."""
    if data_dir is not None:
        return data_dir
    root = Path(platformdirs.user_data_dir("vhub"))
    stacks = [d for d in (root / "hubs", root / "demo") if (d / "hubs.json").exists()]
    return max(stacks, key=lambda d: (d / "hubs.json").stat().st_mtime) if stacks else root / "hubs"


@hub_app.command("cut")
def cut(hub: str, data_dir: StackDir = None) -> None:
    """Cut HUB off from central: its server reloads a config without its leaf link (SIGHUP)."""
    from vhub.hublink import set_link

    set_link(_dir(data_dir), hub, linked=False)
    console.print(f"hub {hub}: link to central cut (its services keep working)")


@hub_app.command("heal")
def heal(hub: str, data_dir: StackDir = None) -> None:
    """Link HUB to central again: its server reloads its linked config; central catches up."""
    from vhub.hublink import set_link

    set_link(_dir(data_dir), hub, linked=True)
    console.print(f"hub {hub}: link to central restored")


@hub_app.command("status")
def status(data_dir: StackDir = None) -> None:
    """Each hub: linked or cut, its log's last sequence, and what central's VHUB_CENTRAL holds of it."""
    from vhub.hublink import link_report

    rows = asyncio.run(link_report(_dir(data_dir)))
    table = Table(title="linked hubs (VHUB_CENTRAL's sources)")
    for col in ("hub", "link", "hub log", "central reaches", "source lag", "source active"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(r[k]) for k in ("hub", "link", "last_seq", "reachable", "lag", "active")))
    console.print(table)
