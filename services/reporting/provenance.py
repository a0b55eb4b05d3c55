"""Provenance: the events behind a figure served for a place and a period, and their sum.

The index (``rpt_provenance_v2``, written with the counters in the same transaction) names each
contributing event by its stream sequence; :func:`explain` reads one page of it and the served
figure from the same snapshot, so the sum of the contributions equals the figure at that position.
:class:`LogLookup` reads the events themselves from the log by sequence (hub, type, ids, time).
No personal data: the traced figures come from dispatch facts, and only envelope ids are shown.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import func, select

from services.reporting import models as m
from services.reporting.queries import Snapshot
from shared.envelope import Envelope


@dataclass(frozen=True)
class Contribution:
    seq: int
    day: date
    province_code: str
    commune_code: str
    contribution: int


@dataclass(frozen=True)
class Explanation:
    figure: str
    level: str  # campaign | province | commune
    code: str
    start: date | None
    end: date | None
    served: int  # the figure as the read model serves it at this snapshot
    total: int  # the sum of every contribution indexed for it (equal to ``served``)
    events: int  # how many contributions (all pages)
    page: list[Contribution]


async def explain(
    snap: Snapshot,
    figure: str,
    *,
    province: str | None = None,
    commune: str | None = None,
    start: date | None = None,
    end: date | None = None,
    page: int = 1,
    page_size: int = 100,
) -> Explanation:
    """One page (in log order) of the contributions to ``figure`` at the place over the days."""
    if figure not in m.TRACED:
        raise ValueError(f"no provenance for {figure}: one of {', '.join(m.TRACED)}")
    level, code = (
        ("commune", commune) if commune else ("province", province) if province else ("campaign", "")
    )
    p = snap.t["provenance"]
    where = [p.c.figure == m.TRACE_CODE[figure]]
    if province:
        where.append(p.c.province_code == province)
    if commune:
        where.append(p.c.commune_code == commune)
    if start:
        where.append(p.c.day >= start)
    if end:
        where.append(p.c.day <= end)
    total, count = (
        await snap.conn.execute(select(func.sum(p.c.contribution), func.count()).where(*where))
    ).one()
    rows = await snap.rows(
        select(p.c.seq, p.c.day, p.c.province_code, p.c.commune_code, p.c.contribution)
        .where(*where)
        .order_by(p.c.seq)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return Explanation(
        figure,
        level,
        code,
        start,
        end,
        await _served(snap, figure, level, code, start, end),
        int(total or 0),
        int(count),
        [Contribution(**r) for r in rows],
    )


async def _served(
    snap: Snapshot, figure: str, level: str, code: str, start: date | None, end: date | None
) -> int:
    """What the API serves: the area's running total, or the sum of its days in the period."""
    if start is None and end is None:
        f = snap.t["figures"]
        query = select(f.c[figure]).where(f.c.level == level, f.c.code == code)
    else:
        d = snap.t["daily"]
        query = select(func.sum(d.c[figure])).where(d.c.level == level, d.c.code == code)
        if start:
            query = query.where(d.c.day >= start)
        if end:
            query = query.where(d.c.day <= end)
    return int((await snap.conn.execute(query)).scalar() or 0)


class LogLookup:
    """The events at given stream sequences, read from the log (direct gets, a page at a time)."""

    def __init__(self, js: JetStreamContext, stream: str) -> None:
        self._js = js
        self._stream = stream

    async def describe(self, seqs: list[int]) -> dict[int, dict[str, Any]]:
        found = await asyncio.gather(*(self._one(s) for s in seqs))
        return dict(zip(seqs, found, strict=True))

    async def _one(self, seq: int) -> dict[str, Any]:
        msg = await self._js.get_msg(self._stream, seq=seq, direct=True)
        env = Envelope.from_bytes(msg.data or b"")
        return {
            "hub": env.hub,
            "event_type": env.event_type,
            "event_id": env.event_id,
            "command_id": env.command_id,
            "recorded_at": _iso(env.recorded_at),
        }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
