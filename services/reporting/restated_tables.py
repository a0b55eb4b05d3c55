"""The read-model tables of published and restated days (``docs/restatements.md``): coloured
like every projected table (listed in :data:`services.reporting.models.SHAPES`). No personal data."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel


class DayPublication(SQLModel, table=True):
    """A hub's closed day: from its ``DayClosed`` on (``closed_seq``), every counted fact of the
    day from that hub is a restatement; ``published_*`` once its ``DayFiguresPublished`` is read."""

    __tablename__ = "rpt_day_published"
    hub: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    closed_seq: int = 0
    published_seq: int | None = None
    published_at: str | None = None  # ISO 8601, as the log recorded the publication


class Restatement(SQLModel, table=True):
    """What one event, arriving after its hub closed the day, changed in one published figure at
    one commune (the same contributions as the provenance index, for closed days only)."""

    __tablename__ = "rpt_restatement"
    __table_args__ = {"sqlite_with_rowid": False}
    province_code: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    figure: str = Field(primary_key=True)
    commune_code: str = Field(primary_key=True)
    hub: str = ""
    change: int = 0
    recorded_at: str | None = None  # ISO 8601: when the restating event was recorded
