"""A scenario across linked hubs: each command sent to the hub that owns it, checked at central.

Routing needs no table of ids: a command naming a province goes to the hub serving it
(shared.hubs), one naming an aggregate to the hub its id names (shared.ownership); the hub-wide
ones go to every hub (``close_day``: each hub closes its own day) or are split by hub
(``designate_border_communes``: each hub gets the border communes of its provinces). All go on
``vhub.cmd.<hub>.<context>.<command>`` through one connection at central. Afterwards central's
figures are read once ``VHUB_CENTRAL`` holds every hub's whole log, and per-hub rows compare each
hub's provinces.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import nats
from rich.console import Console

from shared.envelope import hub_command_subject
from shared.hubs import hub_of_province, provinces_of
from shared.ownership import id_hub
from shared.refdata import communes
from vhub.simulate import check
from vhub.simulate.driver import Route
from vhub.simulate.model import FIGURES, Step, Truth

if TYPE_CHECKING:
    from vhub.hubstack import HubStack

Targets = list[tuple[str, Mapping[str, Any]]]


def owner_of_body(body: Mapping[str, Any]) -> str | None:
    """The hub a command belongs to: its province's, else the first id's that names a hub."""
    if isinstance(body.get("province_code"), str):
        return hub_of_province(body["province_code"])
    for value in body.values():
        for one in value if isinstance(value, list) else [value]:
            if isinstance(one, str) and (hub := id_hub(one)) is not None:
                return hub
    return None


def hub_route(hubs: list[str]) -> Route:
    """Send each step to its hub (hub-addressed subjects); hub-wide steps to each of ``hubs``."""

    def route(step: Step, body: dict[str, Any]) -> Targets:
        owner = owner_of_body(body)
        if owner is not None:
            return [(hub_command_subject(owner, step.context, step.name), body)]
        if step.name == "designate_border_communes":
            by_hub: dict[str, list[str]] = {}
            for code in body["commune_codes"]:
                province = communes()[code].province_code
                by_hub.setdefault(str(hub_of_province(province)), []).append(code)
            return [
                (hub_command_subject(h, step.context, step.name), {**body, "commune_codes": codes})
                for h, codes in by_hub.items()
            ]
        return [(hub_command_subject(h, step.context, step.name), body) for h in hubs]

    return route


def hub_rows(hubs: list[str]) -> Any:
    """Per hub: its provinces' figures as reported at central against the plan's."""

    def rows(truth: Truth, seen: check.Reading) -> list[check.Row]:
        out = []
        for hub in hubs:
            codes = provinces_of(hub)
            want: Counter[str] = Counter()
            got: Counter[str] = Counter()
            for p in codes:
                want.update(truth.of(("province", p)))
                got.update(seen.provinces.get(p, Counter()))
            wrong = [f for f in FIGURES if want[f] != got[f]]
            out.append(
                check.Row(
                    f"hub {hub} ({len(codes)} province{'s' if len(codes) > 1 else ''}): volunteers",
                    want["active_volunteers"],
                    got["active_volunteers"],
                    note=f"{len(FIGURES) - len(wrong)}/{len(FIGURES)} figures equal"
                    + (f"; differ: {', '.join(wrong[:4])}" if wrong else ""),
                )
            )
            out.append(check.Row(f"hub {hub}: figures equal", len(FIGURES), len(FIGURES) - len(wrong)))
        return out

    return rows


async def central_holds_every_log(stack: HubStack, within: float = 300.0) -> int:
    """Wait until ``VHUB_CENTRAL`` holds as many messages as every hub's log together; its last
    sequence then (the position to read central's figures at)."""
    user, password = "operator", "vhub-dev-operator"
    conns = {c: await nats.connect(hs.url, user=user, password=password) for c, hs in stack.servers.items()}
    try:
        deadline = time.monotonic() + within
        central = conns[stack.hubs[0]].jetstream()
        while True:
            total = 0
            for code, nc in conns.items():
                total += (await nc.jetstream().stream_info(f"VHUB_EVT_{code.upper()}")).state.messages
            state = (await central.stream_info("VHUB_CENTRAL")).state
            if state.messages >= total:
                return state.last_seq
            if time.monotonic() > deadline:
                raise TimeoutError(f"VHUB_CENTRAL holds {state.messages} of {total} after {within}s")
            await asyncio.sleep(0.2)  # central's sources are copying; bounded by the deadline
    finally:
        for nc in conns.values():
            await nc.close()


async def run_hub_demo(stack: HubStack, *, seed: int = 2025, console: Console | None = None) -> bool:
    """``make demo``: launch-week across the stack's hubs; the table at central, every row ok."""
    from vhub.simulate.run import run_scenario
    from vhub.simulate.scenarios import build_plan

    console = console or Console()
    plan = build_plan("launch-week", scale=1.0, seed=seed)
    missing = {str(owner_of_body(s.body)) for s in plan.steps() if "province_code" in s.body} - set(
        stack.hubs
    )
    if missing:
        console.print(f"[red]launch-week needs every hub it has provinces at; not running: {sorted(missing)}")
        return False
    report = await run_scenario(
        stack.central.url,
        stack.procs["reporting"].url,
        "launch-week",
        1.0,
        seed,
        console=console,
        route=hub_route(stack.hubs),
        settled=lambda: central_holds_every_log(stack),
        more_rows=hub_rows(stack.hubs),
        credentials=("operator", "vhub-dev-operator"),
    )
    console.print(report.table())
    console.print(report.headline_table())
    return report.ok
