"""The write side of the read models: a batch and its checkpoint in ONE transaction.

Per batch: lock the colour's checkpoint row, drop events at or below it (redeliveries), read the
entity rows the batch touches (a few ``IN`` queries), fold (pure), then write every change as a
multi-row upsert (counters added, entity rows replaced, the provenance index rows of every counted
contribution inserted) and move the checkpoint. A crash anywhere
rolls all of it back together; the consumer redelivers from the last ack.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.reporting import models as m
from services.reporting.batch import BatchRows
from services.reporting.plan import Statement
from services.reporting.projections import Loaded, fold
from shared.events import Event

CHECKPOINT = m.Checkpoint.__table__  # type: ignore[attr-defined]  # sqlmodel table
PROJECTION_ROW = m.ProjectionState.__table__  # type: ignore[attr-defined]  # sqlmodel table


class Item(NamedTuple):
    """One message of a batch: its stream sequence, and its event (None when dead-lettered, or
    when ``ignored``: a known event no figure depends on). A tuple: one is made per event, and a
    frozen dataclass costs a ``object.__setattr__`` per field."""

    seq: int
    event: Event | None
    recorded_at: datetime | None
    ignored: bool = False
    hub: str = ""  # the hub whose log it is (its envelope's), "" when unreadable


@dataclass(frozen=True)
class GroupSummary:
    """What a batch moves besides its rows: the checkpoint's and the per-hub rows' changes."""

    items: int
    last_seq: int
    last_event_at: datetime | None  # the last recorded_at among the items
    events: int  # applied (an event to fold)
    dead_lettered: int  # unreadable: the live projection dead-letters them
    first_hub: str  # the first hub an envelope named ("" when none did)
    hub_applied: Counter[str]
    hub_last: dict[str, datetime]

    @classmethod
    def of(cls, fresh: Sequence[Item]) -> GroupSummary:
        applied: Counter[str] = Counter()
        last: dict[str, datetime] = {}
        stamp, events, dead = None, 0, 0
        for item in fresh:
            folds = item.event is not None
            applied[item.hub] += folds
            events += folds
            dead += not folds and not item.ignored
            if item.recorded_at is not None:
                stamp = last[item.hub] = item.recorded_at
        first = next((i.hub for i in fresh if i.hub), "")
        return cls(len(fresh), fresh[-1].seq, stamp, events, dead, first, applied, last)

    @classmethod
    def joined(cls, parts: Sequence[GroupSummary]) -> GroupSummary:
        """The summary of consecutive parts of one batch (the first part first)."""
        applied: Counter[str] = Counter()
        last: dict[str, datetime] = {}
        for part in parts:
            applied.update(part.hub_applied)
            last.update(part.hub_last)
        stamps = [p.last_event_at for p in parts if p.last_event_at is not None]
        return cls(
            sum(p.items for p in parts),
            parts[-1].last_seq,
            stamps[-1] if stamps else None,
            sum(p.events for p in parts),
            sum(p.dead_lettered for p in parts),
            next((p.first_hub for p in parts if p.first_hub), ""),
            applied,
            last,
        )


@dataclass(frozen=True)
class Folded:
    """A batch folded and planned outside the store (:mod:`services.reporting.fold_worker`)."""

    summary: GroupSummary
    statements: list[Statement]


@dataclass(frozen=True)
class Position:
    colour: m.Colour
    position: int
    last_event_at: datetime | None


class RebuildSupersededError(RuntimeError):
    """Another rebuild took over the inactive colour, or ours became live under us."""


class ReportingStore:
    def __init__(
        self,
        engine: AsyncEngine,
        projection: str = m.PROJECTION,
        *,
        provenance: bool = True,
        hub: str = "",
    ) -> None:
        self.engine = engine
        self.projection = projection
        self.hub = hub  # the hub whose own stream this is ("": as its events say; central: unused)
        self.provenance = provenance  # index every counted contribution (off: to measure its cost)
        self.postgres = engine.dialect.name == "postgresql"
        self._rows = BatchRows(postgres=self.postgres)

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            for table in m.CONTROL_TABLES:
                await conn.run_sync(_ddl(table, drop=False))
            for colour in m.COLOURS:
                for table in m.TABLES[colour].values():
                    await conn.run_sync(_ddl(table, drop=False))
            await self._rows.insert(
                conn,
                PROJECTION_ROW,
                ["projection"],
                [{"projection": self.projection, "active_colour": "blue"}],
                None,
            )
            await self._rows.insert(
                conn,
                CHECKPOINT,
                ["projection", "colour"],
                [{"projection": self.projection, "colour": c} for c in m.COLOURS],
                None,
            )

    async def position(self, colour: m.Colour | None = None) -> Position:
        async with self.engine.connect() as conn:
            active, _ = await self._control(conn, lock=False)
            return await self._checkpoint(conn, colour or active, lock=False)

    async def apply(
        self,
        items: Sequence[Item],
        *,
        origins: Mapping[str, int] | None = None,
        rebuild_owner: str | None = None,
        memory: Loaded | None = None,
        folded: Folded | None = None,
    ) -> int:
        """Apply a batch to the live colour (or, for a rebuild, the inactive one it owns).
        Returns how many items were new (above the checkpoint).

        ``origins``: how far the batch goes in each hub's log (:attr:`shared.projection.Batch.origins`:
        origin stream, or "" for this stream itself, -> sequence there), kept per hub with the batch.

        ``memory``: every entity row of the target colour, kept by a caller that is its only writer
        since the tables were created (a rebuild); the batch then reads nothing back. It is updated
        in place, so after a failed batch it is wrong and the caller must start again.

        ``folded``: the batch already folded and planned elsewhere (a rebuild's fold worker, which
        keeps the memory); ``items`` then only name the sequences it covers, past the checkpoint.
        """
        async with self.engine.begin() as conn:
            active, owner = await self._control(conn, lock=False)
            colour = active
            if rebuild_owner is not None:
                if owner != rebuild_owner:
                    raise RebuildSupersededError(f"rebuild {rebuild_owner} no longer owns it")
                colour = m.other(active)
            at = await self._checkpoint(conn, colour, lock=True)
            if folded is not None:  # a rebuild's group, folded and planned by its worker
                if items and items[0].seq <= at.position:  # its only writer: cannot happen
                    raise RebuildSupersededError(f"group from {items[0].seq} is not past {at.position}")
                summary = folded.summary
                await self._rows.run(conn, folded.statements)
            else:
                fresh = [i for i in items if i.seq > at.position]
                if not fresh:
                    return 0
                summary = GroupSummary.of(fresh)
                events = [i.event for i in fresh if i.event is not None]
                sources = [(i.seq, i.hub, i.recorded_at) for i in fresh if i.event is not None]
                tables = m.TABLES[colour]
                loaded = memory if memory is not None else await self._rows.load(conn, tables, events)
                changes = fold(events, loaded, sources, trail=self.provenance)
                await self._rows.write(conn, tables, changes)
            if origins:
                await self._rows.hub_positions(
                    conn, m.TABLES[colour]["hub"], self._hub_rows(summary, origins)
                )
            await conn.execute(
                update(CHECKPOINT)
                .where(CHECKPOINT.c.projection == self.projection, CHECKPOINT.c.colour == colour)
                .values(
                    position=summary.last_seq,
                    last_event_at=summary.last_event_at or at.last_event_at,
                    events_applied=CHECKPOINT.c.events_applied + summary.events,
                    dead_lettered=CHECKPOINT.c.dead_lettered + summary.dead_lettered,
                )
            )
            return summary.items

    def _hub_rows(self, summary: GroupSummary, origins: Mapping[str, int]) -> list[dict[str, Any]]:
        """One row per hub the batch reached: its position there, the last event's time, the count."""
        # a hub's own stream holds only its events: its envelopes name the hub
        local = self.hub or summary.first_hub
        at = {origin_hub(o, local): seq for o, seq in origins.items()}
        return [
            {
                "hub": h,
                "position": seq,
                "last_event_at": summary.hub_last.get(h),
                "events_applied": summary.hub_applied[h],
            }
            for h, seq in at.items()
            if h
        ]

    # -- rebuild control -----------------------------------------------------------------------

    async def begin_rebuild(self, owner: str) -> m.Colour:
        """Claim the inactive colour for ``owner``: fresh, empty tables and checkpoint 0."""
        async with self.engine.begin() as conn:
            active, _ = await self._control(conn, lock=True)
            colour = m.other(active)
            for table in m.TABLES[colour].values():
                await conn.run_sync(_ddl(table, drop=True))
                await conn.run_sync(_ddl(table, drop=False))
            await conn.execute(
                update(PROJECTION_ROW)
                .where(PROJECTION_ROW.c.projection == self.projection)
                .values(rebuild_owner=owner)
            )
            await conn.execute(
                update(CHECKPOINT)
                .where(CHECKPOINT.c.projection == self.projection, CHECKPOINT.c.colour == colour)
                .values(position=0, last_event_at=None, events_applied=0, dead_lettered=0)
            )
            return colour

    async def try_switch(self, owner: str, now: datetime) -> bool:
        """Make the rebuilt colour live if it has reached the live one's position (atomic)."""
        async with self.engine.begin() as conn:
            active, current_owner = await self._control(conn, lock=True)
            if current_owner != owner:
                raise RebuildSupersededError(f"rebuild {owner} no longer owns it")
            live = await self._checkpoint(conn, active, lock=False)
            built = await self._checkpoint(conn, m.other(active), lock=False)
            if built.position < live.position:
                return False
            await conn.execute(
                update(PROJECTION_ROW)
                .where(PROJECTION_ROW.c.projection == self.projection)
                .values(active_colour=m.other(active), rebuild_owner=None, switched_at=now)
            )
            return True

    # -- internals -----------------------------------------------------------------------------

    async def _control(self, conn: AsyncConnection, *, lock: bool) -> tuple[m.Colour, str | None]:
        query = select(PROJECTION_ROW.c.active_colour, PROJECTION_ROW.c.rebuild_owner).where(
            PROJECTION_ROW.c.projection == self.projection
        )
        # Batches share the row; only a switch (or a rebuild's claim) takes it exclusively.
        query = query.with_for_update() if lock else query.with_for_update(read=True)
        row = (await conn.execute(query)).one()
        return ("green" if row[0] == "green" else "blue"), row[1]

    async def _checkpoint(self, conn: AsyncConnection, colour: m.Colour, *, lock: bool) -> Position:
        query = select(CHECKPOINT.c.position, CHECKPOINT.c.last_event_at).where(
            CHECKPOINT.c.projection == self.projection, CHECKPOINT.c.colour == colour
        )
        if lock:
            query = query.with_for_update()
        row = (await conn.execute(query)).one()
        return Position(colour, int(row[0]), row[1])


def origin_hub(stream: str, local: str) -> str:
    """The hub whose log ``stream`` is (``VHUB_EVT_<HUB>``); "" (the stream read) is ``local``."""
    return stream.removeprefix("VHUB_EVT_").lower() if stream else local


def _ddl(table: Table, *, drop: bool) -> Callable[[Connection], None]:
    def run(sync: Connection) -> None:
        if drop:
            table.drop(sync, checkfirst=True)
        else:
            table.create(sync, checkfirst=True)

    return run
