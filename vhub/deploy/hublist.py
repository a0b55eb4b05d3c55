"""Read and check ``deploy/hubs.toml``: every hub, and every province served by exactly one."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.refdata import normalise_province, provinces
from shared.settings import HUB_RE

REPO = Path(__file__).resolve().parents[2]
HUBS_FILE = REPO / "deploy" / "hubs.toml"


class HubListError(ValueError):
    """The hub list breaks a rule (unknown province, one served twice, a port used twice...)."""


@dataclass(frozen=True)
class Hub:
    code: str
    name: str
    provinces: tuple[str, ...]  # every province it serves, after `serves_rest` is resolved
    client_port: int
    monitor_port: int
    central: bool = False

    @property
    def stream(self) -> str:
        return f"VHUB_EVT_{self.code.upper()}"


@dataclass(frozen=True)
class HubList:
    hubs: tuple[Hub, ...]  # the central hub first, then the list's order
    central_nodes: int
    cluster_port: int
    leaf_port: int

    @property
    def central(self) -> Hub:
        return self.hubs[0]

    @property
    def leaves(self) -> tuple[Hub, ...]:
        """The provincial hubs: leaf nodes of the central cluster."""
        return self.hubs[1:]

    def hub(self, code: str) -> Hub:
        for h in self.hubs:
            if h.code == code:
                return h
        raise KeyError(code)

    def province_map(self) -> dict[str, str]:
        return {p: h.code for h in self.hubs for p in h.provinces}


def load_hub_list(path: Path = HUBS_FILE) -> HubList:
    """Parse and check the hub list; raise :class:`HubListError` naming the broken rule."""
    return parse_hub_list(tomllib.loads(path.read_text(encoding="utf-8")))


def parse_hub_list(raw: dict[str, Any]) -> HubList:
    central = raw.get("central") or {}
    entries: list[dict[str, Any]] = list(raw.get("hub") or [])
    if not entries:
        raise HubListError("no [[hub]] entries")
    central_code = central.get("hub")
    codes = [str(e.get("code")) for e in entries]
    for code in codes:
        if not HUB_RE.match(code):
            raise HubListError(f"hub code {code!r} must match {HUB_RE.pattern}")
    if len(set(codes)) != len(codes):
        raise HubListError(f"a hub code is listed twice: {codes}")
    if central_code not in codes:
        raise HubListError(f"[central] hub {central_code!r} is not one of the hubs")

    served: dict[str, str] = {}
    for e in entries:
        for value in e.get("provinces") or []:
            province = normalise_province(value)
            if province is None:
                raise HubListError(f"hub {e['code']}: {value!r} is not one of the 34 provinces")
            if province in served:
                raise HubListError(f"province {province} is served by {served[province]} and {e['code']}")
            served[province] = e["code"]
    rest_hubs = [e["code"] for e in entries if e.get("serves_rest")]
    if len(rest_hubs) > 1:
        raise HubListError(f"only one hub may serve the rest: {rest_hubs}")
    rest = [p for p in provinces() if p not in served]
    if rest and not rest_hubs:
        raise HubListError(f"provinces served by no hub: {rest}")

    hubs = []
    for e in entries:
        own = [p for p, h in served.items() if h == e["code"]]
        if e.get("serves_rest"):
            own += rest
        hubs.append(
            Hub(
                code=e["code"],
                name=str(e.get("name") or e["code"]),
                provinces=tuple(own),
                client_port=int(e["client_port"]),
                monitor_port=int(e["monitor_port"]),
                central=e["code"] == central_code,
            )
        )
    hubs.sort(key=lambda h: not h.central)  # stable: the central hub first
    out = HubList(
        hubs=tuple(hubs),
        central_nodes=int(central.get("nodes", 3)),
        cluster_port=int(central.get("cluster_port", 6222)),
        leaf_port=int(central.get("leaf_port", 7422)),
    )
    ports = [out.cluster_port, out.leaf_port] + [p for h in hubs for p in (h.client_port, h.monitor_port)]
    if len(set(ports)) != len(ports):
        raise HubListError(f"a port is used twice: {sorted(ports)}")
    return out
