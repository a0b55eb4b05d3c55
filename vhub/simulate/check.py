"""The ground-truth check: what the plan expects beside what the reporting API shows.

Figures are compared as the change between a reading taken before the run and one taken after it
(waiting with ``min_position`` for the projection to reach the run's last write), so a stack that
already holds other data can still be checked.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from shared.refdata import provinces
from vhub.simulate.model import CAMPAIGN, FIGURES, Noise, Truth

LAST_DAY = "2025-08-31"
# The province figures the launch week is known by (all 34 x 13 are checked in one row besides).
HEADLINE_CELLS = (
    ("01", "active_teams"),
    ("01", "active_volunteers"),
    ("68", "people_supported"),
    ("79", "digital_sessions_held"),
    ("79", "elderly_attendees"),
)


@dataclass(frozen=True)
class Row:
    figure: str
    expected: int
    reported: int | None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.reported == self.expected


@dataclass
class Reading:
    """The reporting API's figures at one moment."""

    position: int
    summary: Counter[str]
    focus: Counter[str]
    affiliation: Counter[str]
    provinces: dict[str, Counter[str]]
    border_designated: int
    border_never: int

    def minus(self, before: Reading) -> Reading:
        return Reading(
            self.position,
            self.summary - before.summary,
            self.focus - before.focus,
            self.affiliation - before.affiliation,
            {p: c - before.provinces.get(p, Counter()) for p, c in self.provinces.items()},
            self.border_designated - before.border_designated,
            self.border_never - before.border_never,
        )


async def _get(
    client: httpx.AsyncClient, path: str, params: dict[str, Any], deadline: float
) -> dict[str, Any]:
    """GET, riding out 503 (projection not there yet) and a restarting service until ``deadline``."""
    while True:
        try:
            resp = await client.get(path, params=params)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)  # the reporting process is (re)starting: ask again shortly
            continue
        if resp.status_code != 503 or time.monotonic() > deadline:
            resp.raise_for_status()
            body: dict[str, Any] = resp.json()
            return body
        wait = float(resp.headers.get("Retry-After", "1"))
        await asyncio.sleep(min(wait, 1.0))  # the API asked us to come back later


async def read(base_url: str, min_position: int = 0, wait_s: float = 120.0) -> Reading:
    deadline = time.monotonic() + wait_s
    params = {"min_position": min_position} if min_position else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        summary = await _get(client, "/v1/summary", params, deadline)
        provs = await _get(client, "/v1/provinces", params, deadline)
        never = await _get(
            client, "/v1/border-communes", {**params, "covered": "never", "date": LAST_DAY}, deadline
        )
    return Reading(
        position=int(summary.get("freshness", {}).get("position") or 0),
        summary=Counter({k: int(v) for k, v in summary["figures"].items()}),
        focus=Counter(summary.get("teams_by_focus") or {}),
        affiliation=Counter(summary.get("volunteers_by_affiliation") or {}),
        provinces={
            row["code"]: Counter({f: int(row.get(f) or 0) for f in FIGURES}) for row in provs["items"]
        },
        border_designated=int(summary.get("border_communes") or 0),
        border_never=len(never["items"]),
    )


def compare(
    truth: Truth, seen: Reading, noise_seen: Counter[Noise], unexpected: int, first_surprise: str = ""
) -> list[Row]:
    """The table: every campaign figure, breakdowns, all provinces at once, border, noise."""
    rows = [Row(f, truth.of(CAMPAIGN)[f], seen.summary[f]) for f in FIGURES]
    rows += [Row(f"teams: {k}", n, seen.focus[k]) for k, n in sorted(truth.teams_by_focus.items())]
    rows += [
        Row(f"volunteers: {k}", n, seen.affiliation[k])
        for k, n in sorted(truth.volunteers_by_affiliation.items())
    ]
    for code, figure in HEADLINE_CELLS:
        if truth.of(("province", code))[figure]:
            rows.append(
                Row(
                    f"{provinces()[code].name}: {figure}",
                    truth.of(("province", code))[figure],
                    seen.provinces.get(code, Counter())[figure],
                )
            )
    cells = [(p, f) for p in provinces() for f in FIGURES]
    wrong = [(p, f) for p, f in cells if truth.of(("province", p))[f] != seen.provinces.get(p, Counter())[f]]
    rows.append(
        Row(
            f"province figures (34 × {len(FIGURES)})",
            len(cells),
            len(cells) - len(wrong),
            note=", ".join(f"{p}.{f}" for p, f in wrong[:5]),
        )
    )
    rows.append(Row("border communes designated", len(truth.border_communes), seen.border_designated))
    covered = seen.border_designated - seen.border_never  # both as changes over the run
    rows.append(Row("border communes with a team", len(truth.border_communes_covered), covered))
    for kind in Noise:
        rows.append(
            Row(
                f"noise: {kind.value}",
                truth.noise[kind],
                noise_seen[kind] if kind is not Noise.NO_SHOW else seen.summary["no_shows"],
                note="as answered" if kind is not Noise.NO_SHOW else "as reported",
            )
        )
    rows.append(Row("unexpected replies", 0, unexpected, note=first_surprise[:120]))
    return rows
