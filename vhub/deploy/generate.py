"""Every generated deployment file, and writing or checking them."""

from __future__ import annotations

from pathlib import Path

from vhub.deploy.compose import compose_text
from vhub.deploy.hublist import REPO, HubList, load_hub_list
from vhub.deploy.hubmap import hubmap_text
from vhub.deploy.monitoring import prometheus_text
from vhub.deploy.natsconf import accounts_file, production_files
from vhub.natsaccounts import CENTRAL_STREAM, render_accounts


def generated_files(hubs: HubList | None = None) -> dict[Path, str]:
    """Repository-relative path -> the text the hub list generates there."""
    hubs = hubs or load_hub_list()
    out = {Path("deploy/nats") / name: text for name, text in production_files(hubs).items()}
    for hub in hubs.hubs:  # central's reporting reads the central stream
        accounts = (
            render_accounts(hub.code, read_stream=CENTRAL_STREAM, sourced=[h.code for h in hubs.hubs])
            if hub.central
            else render_accounts(hub.code)
        )
        out[Path("deploy/nats") / accounts_file(hub)] = accounts
    out[Path("docker-compose.yml")] = compose_text(hubs)
    out[Path("shared/hubmap.py")] = hubmap_text(hubs)
    out[Path("deploy/prometheus/prometheus.yml")] = prometheus_text(hubs)
    return out


def stale_files(root: Path = REPO) -> list[Path]:
    """Generated files missing under ``root`` or differing from what the list generates."""
    stale = []
    for path, text in generated_files().items():
        target = root / path
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            stale.append(path)
    return stale


def write_files(root: Path = REPO) -> list[Path]:
    """Write every generated file that changed; return those written."""
    written = []
    for path in stale_files(root):
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(generated_files()[path], encoding="utf-8")
        written.append(path)
    return written
