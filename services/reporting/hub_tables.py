"""The read-model table of how far the figures go in each hub's log (freshness per hub): coloured
like every projected table (listed in :data:`services.reporting.models.SHAPES`)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class HubPosition(SQLModel, table=True):
    """How far a colour's tables go in one hub's log: the hub's own stream sequence (the
    ``version`` its replies return) of the last of its events applied, written with them."""

    __tablename__ = "rpt_hub_position"
    hub: str = Field(primary_key=True)
    position: int = 0
    last_event_at: datetime | None = None
    events_applied: int = 0
