"""A hub's leaf link in a running ``vhub dev --hubs`` stack (vhub/hubstack.py): cut, heal, report.

Cut and heal rewrite the hub server's config file (the linked or the cut text the stack rendered,
kept in ``<data_dir>/hubs.json``) and send it SIGHUP: nats-server 2.15 drops a removed leaf remote
and dials an added one on reload (checked), so the hub's server and services keep running.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client

CONF = "nats-server.conf"  # the file shared.natsserver.run_nats_server writes and the server reads
STATE = "hubs.json"  # per hub: workdir, url, the linked and the cut config
OPERATOR = ("operator", "vhub-dev-operator")  # vhub.hubstack.DEV_SECRETS


async def reaches(central: Client, hub: str) -> bool:
    """Central reaches ``hub``'s JetStream (its own domain) over the leaf link."""
    try:
        await central.jetstream(domain=hub, timeout=2).stream_info(f"VHUB_EVT_{hub.upper()}")
    except (nats.errors.Error, nats.js.errors.Error):
        return False
    return True


def _state(data_dir: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((data_dir / STATE).read_text())
    return state


def set_link(data_dir: Path, hub: str, *, linked: bool, within: float = 10.0) -> None:
    """Cut (``linked=False``) or heal a hub's leaf link in a running stack: write the config, send
    SIGHUP to the hub's server (its pid from the supervisor's status file), and wait for the server
    to log that it reloaded (a refused reload raises, with the server's reason)."""
    state = _state(data_dir)
    if hub not in state or not state[hub]["cut"]:
        raise ValueError(f"{hub} is not a leaf hub of the stack in {data_dir}: {sorted(state)}")
    workdir = Path(state[hub]["workdir"])
    (workdir / CONF).write_text(state[hub]["linked" if linked else "cut"])
    status = json.loads((data_dir / "supervisor.json").read_text())
    pid = status["processes"][f"nats-{hub}"]["pid"]
    if pid is None:
        return  # restarting: it starts on the file just written
    log = workdir / "nats-server.log"
    seen = log.stat().st_size
    os.kill(int(pid), signal.SIGHUP)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with log.open("rb") as f:
            f.seek(seen)
            new = f.read().decode(errors="replace")
        if "Reloaded server configuration" in new:
            return
        if "Failed to reload" in new:
            raise RuntimeError(new[new.index("Failed to reload") :].splitlines()[0])
        time.sleep(0.05)  # the server is reloading; bounded by the deadline
    raise TimeoutError(f"nats-{hub} did not reload within {within}s")


async def link_report(data_dir: Path) -> list[dict[str, object]]:
    """Per hub: ``link`` (linked/cut, from its config file), ``last_seq`` of its log (asked at the
    hub), ``reachable`` (central reaches its JetStream), and VHUB_CENTRAL's source ``lag`` and
    ``active`` for it (a source's lag stays 0 during a cut: ``active`` says since when)."""
    state = _state(data_dir)
    central_code = next(c for c, h in state.items() if not h["cut"])
    central = await nats.connect(state[central_code]["url"], user=OPERATOR[0], password=OPERATOR[1])
    try:
        info = await central.jetstream().stream_info("VHUB_CENTRAL")
        sources = {s.name: s for s in info.sources or []}
        rows: list[dict[str, object]] = []
        for code, hub in state.items():
            text = (Path(hub["workdir"]) / CONF).read_text()
            nc = await nats.connect(hub["url"], user=OPERATOR[0], password=OPERATOR[1])
            try:
                last = (await nc.jetstream().stream_info(f"VHUB_EVT_{code.upper()}")).state.last_seq
            finally:
                await nc.close()
            source = sources.get(f"VHUB_EVT_{code.upper()}")
            rows.append(
                {
                    "hub": code,
                    "link": "central" if not hub["cut"] else ("linked" if text == hub["linked"] else "CUT"),
                    "last_seq": last,
                    "reachable": True if not hub["cut"] else await reaches(central, code),
                    "lag": None if source is None else source.lag,
                    # nats-py gives nanoseconds since the source last delivered
                    "active": None
                    if source is None or source.active is None
                    else f"{source.active / 1e9:.1f} s ago",
                }
            )
        return rows
    finally:
        await central.close()
