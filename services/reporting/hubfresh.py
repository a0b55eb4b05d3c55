"""Freshness per hub, and the positions a reader waits for (pure: no I/O).

Every answer says, for each hub whose log the figures read: how far they go in that hub's log
(``position``: the hub's own stream sequence, the ``version`` a command reply at that hub
returned), when its last applied event was recorded, how many of the hub's events they do not
reflect yet (``lag``, when the hub can be asked), and whether the hub's source is ``active`` or
since when it has been ``cut_off`` (:mod:`.links`). ``min_position`` names positions to wait for:
``1234`` (the stream this reporting reads), ``hcm:1234`` (hub hcm's log), or several, comma-separated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from shared.hubs import hub_codes

Source = Literal["local", "active", "cut_off", "unknown"]
MIN_POSITION_RE = r"^([a-z][a-z0-9]{1,15}:)?[0-9]{1,18}(,([a-z][a-z0-9]{1,15}:)?[0-9]{1,18}){0,31}$"


@dataclass(frozen=True)
class Link:
    """What the read stream's JetStream info says of one hub (see :class:`.links.HubLinks`)."""

    source: Source
    cut_off_since: datetime | None = None  # when the source last heard from the hub, if cut off
    hub_last_seq: int | None = None  # the hub's own log's last sequence, when it could be asked


@dataclass(frozen=True)
class Wanted:
    """What a ``min_position`` asks for: a position of the stream read, and positions per hub."""

    position: int = 0
    hubs: dict[str, int] = field(default_factory=dict)


def parse_min_position(value: str | None) -> Wanted:
    """``"1234"``, ``"hcm:1234"``, ``"hn:7,hcm:1234"`` (already checked against MIN_POSITION_RE)."""
    if not value:
        return Wanted()
    plain, hubs = 0, dict[str, int]()
    for part in value.split(","):
        hub, _, seq = part.rpartition(":")
        if hub:
            hubs[hub] = max(hubs.get(hub, 0), int(seq))
        else:
            plain = max(plain, int(seq))
    return Wanted(plain, hubs)


def ordered(hubs: Iterable[str]) -> list[str]:
    """The hub list's order (central first), then any other hub by code."""
    known = {h: i for i, h in enumerate(hub_codes())}
    return sorted(set(hubs), key=lambda h: (known.get(h, len(known)), h))


def hub_freshness(rows: Mapping[str, Mapping[str, Any]], links: Mapping[str, Link]) -> list[dict[str, Any]]:
    """One entry per hub that has events in the figures or a source of the stream read."""
    out = []
    for hub in ordered([*rows, *links]):
        row = rows.get(hub, {})
        link = links.get(hub, Link("unknown"))
        position = int(row.get("position", 0))
        at: datetime | None = row.get("last_event_at")
        last = link.hub_last_seq
        out.append(
            {
                "hub": hub,
                "position": position,
                "last_event_at": at.isoformat() if at else None,
                "lag": None if last is None else max(last - position, 0),
                "source": link.source,
                "cut_off_since": link.cut_off_since.isoformat() if link.cut_off_since else None,
            }
        )
    return out


def behind(wanted: Wanted, position: int, hubs: Mapping[str, int]) -> tuple[str | None, int, int] | None:
    """The first position not reached yet, as (hub or None, reached, wanted); None when all are."""
    if position < wanted.position:
        return None, position, wanted.position
    for hub, seq in wanted.hubs.items():
        if hubs.get(hub, 0) < seq:
            return hub, hubs.get(hub, 0), seq
    return None
