"""Read-model tables. No personal data: ids, codes, counts and dates only.

Every projected table exists twice, in a blue and a green colour (``rpt_figures__blue`` …). The
live projection writes the active colour; a rebuild fills the other one from sequence 1 and then
switches :class:`ProjectionState.active_colour` in one transaction, so readers move over atomically
and never see a half-built table. The sqlmodel classes below define the shape once; the coloured
copies are made with :meth:`Table.to_metadata`.

Past the ~250-line guide on purpose: the figure catalogue and the counted tables stay in one module,
since SHAPES, the colour copies and the trace codes are all derived from it (the newer, separate
tables live in restated_tables.py and hub_tables.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlalchemy import MetaData, SmallInteger, Table
from sqlmodel import Field, SQLModel

from services.reporting.hub_tables import HubPosition
from services.reporting.restated_tables import DayPublication, Restatement
from shared.events.dispatch import DAY_FIGURES

Colour = Literal["blue", "green"]
COLOURS: tuple[Colour, Colour] = ("blue", "green")
PROJECTION = "reporting"

# The counted figures, in the order every API and CSV shows them.
FIGURES: tuple[str, ...] = ("active_teams", "active_volunteers", *DAY_FIGURES)
# The figures every event's contribution is indexed for (/v1/provenance): those counted per fact
# at a service point. Active teams and volunteers are states (formed, moved, withdrawn), not sums
# of facts at a place and day, and have no provenance.
TRACED: tuple[str, ...] = DAY_FIGURES  # the figures a day publishes (shared.events.dispatch)
# How the provenance index names a figure: its position in TRACED (two bytes instead of its name
# in every row). Only the read model holds these codes, so a change of TRACED needs a rebuild.
TRACE_CODE: dict[str, int] = {figure: code for code, figure in enumerate(TRACED)}


class _Counts(SQLModel):
    active_teams: int = 0
    active_volunteers: int = 0
    dispatches: int = 0
    check_ins: int = 0
    no_shows: int = 0
    people_supported: int = 0
    businesses_supported: int = 0
    officials_supported: int = 0
    online_applications_guided: int = 0
    digital_sessions_held: int = 0
    session_attendees: int = 0
    elderly_attendees: int = 0
    activity_reports: int = 0
    over_capacity: int = 0


class Figures(_Counts, table=True):
    """Running totals per area: level 'campaign' (code ''), 'province' or 'commune'."""

    __tablename__ = "rpt_figures"
    level: str = Field(primary_key=True)
    code: str = Field(primary_key=True)


class Daily(_Counts, table=True):
    """The same figures per local day. Active teams/volunteers here: teams that checked in that
    day (each once per area) and their members at that first check-in."""

    __tablename__ = "rpt_daily"
    day: date = Field(primary_key=True)
    level: str = Field(primary_key=True)
    code: str = Field(primary_key=True)


class FocusCount(SQLModel, table=True):
    """Active teams by focus, per area."""

    __tablename__ = "rpt_focus"
    level: str = Field(primary_key=True)
    code: str = Field(primary_key=True)
    focus: str = Field(primary_key=True)
    teams: int = 0


class AffiliationCount(SQLModel, table=True):
    """Active volunteers by affiliation, per area."""

    __tablename__ = "rpt_affiliation"
    level: str = Field(primary_key=True)
    code: str = Field(primary_key=True)
    affiliation: str = Field(primary_key=True)
    volunteers: int = 0


class Volunteer(SQLModel, table=True):
    """Where a volunteer counts, and whether they still do. No name, phone or birth date."""

    __tablename__ = "rpt_volunteer"
    volunteer_id: str = Field(primary_key=True)
    province_code: str
    commune_code: str
    affiliation: str
    active: bool = True


class Team(SQLModel, table=True):
    __tablename__ = "rpt_team"
    team_id: str = Field(primary_key=True)
    province_code: str = Field(index=True)
    commune_code: str | None = None
    focus: str
    organisation: str
    active: bool = True
    members: int = 0
    dispatches: int = 0
    check_ins: int = 0
    no_shows: int = 0
    people_supported: int = 0


class Membership(SQLModel, table=True):
    __tablename__ = "rpt_membership"
    team_id: str = Field(primary_key=True)
    volunteer_id: str = Field(primary_key=True)
    active: bool = True


class TeamDay(SQLModel, table=True):
    """A team already counted as active on this day in this area."""

    __tablename__ = "rpt_team_day"
    day: date = Field(primary_key=True)
    team_id: str = Field(primary_key=True)
    level: str = Field(primary_key=True)
    code: str = Field(primary_key=True)


class Coverage(SQLModel, table=True):
    """Requested vs dispatched teams per service point and day."""

    __tablename__ = "rpt_coverage"
    day: date = Field(primary_key=True)
    service_point_id: str = Field(primary_key=True)
    province_code: str = ""
    commune_code: str = ""
    requested: int = 0
    dispatched: int = 0
    check_ins: int = 0
    over_capacity: int = 0


class Provenance(SQLModel, table=True):
    """What one event added to one counted figure at a place on a day: the index behind
    ``/v1/provenance``, written in the same transaction as the counters it explains. Positions
    only (the stream sequence): the event itself is the log's. Its key order serves the lookups
    by figure (its ``TRACE_CODE``), province (commune) and day range."""

    # v2: figure codes (v1 named the figure, as text); a new name, so an upgraded read model gets
    # fresh tables of this shape beside the old ones (which ``vhub rebuild`` then makes whole)
    __tablename__ = "rpt_provenance_v2"
    # SQLite: the rows are the key's b-tree (no rowid table beside a copy of every key in the index)
    __table_args__ = {"sqlite_with_rowid": False}
    figure: int = Field(primary_key=True, sa_type=SmallInteger, sa_column_kwargs={"autoincrement": False})
    province_code: str = Field(primary_key=True)
    commune_code: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    contribution: int = 0


class BorderCommune(SQLModel, table=True):
    __tablename__ = "rpt_border_commune"
    commune_code: str = Field(primary_key=True)
    province_code: str
    effective_from: date | None = None


class PossibleDuplicate(SQLModel, table=True):
    """Ids only: a volunteer the registry flagged, and whom they may duplicate (comma-separated)."""

    __tablename__ = "rpt_possible_duplicate"
    volunteer_id: str = Field(primary_key=True)
    province_code: str = ""
    duplicate_of: str


# -- not coloured: which colour is live, and how far each colour got --------------------------


class ProjectionState(SQLModel, table=True):
    __tablename__ = "rpt_projection"
    projection: str = Field(primary_key=True)
    active_colour: str = "blue"
    rebuild_owner: str | None = None
    switched_at: datetime | None = None


class Checkpoint(SQLModel, table=True):
    """The last stream sequence applied to a colour's tables, written with them."""

    __tablename__ = "rpt_checkpoint"
    projection: str = Field(primary_key=True)
    colour: str = Field(primary_key=True)
    position: int = 0
    last_event_at: datetime | None = None
    events_applied: int = 0
    dead_lettered: int = 0


SHAPES: dict[str, Table] = {
    name: model.__table__  # type: ignore[attr-defined]  # sqlmodel sets __table__ on table classes
    for name, model in {
        "figures": Figures,
        "daily": Daily,
        "focus": FocusCount,
        "affiliation": AffiliationCount,
        "volunteer": Volunteer,
        "team": Team,
        "membership": Membership,
        "team_day": TeamDay,
        "coverage": Coverage,
        "border": BorderCommune,
        "duplicate": PossibleDuplicate,
        "provenance": Provenance,
        "days": DayPublication,
        "restatement": Restatement,
        "hub": HubPosition,
    }.items()
}
CONTROL_TABLES: list[Table] = [
    ProjectionState.__table__,  # type: ignore[attr-defined]  # as above
    Checkpoint.__table__,  # type: ignore[attr-defined]  # as above
]
COLOURED = MetaData()
TABLES: dict[Colour, dict[str, Table]] = {
    colour: {
        name: shape.to_metadata(COLOURED, name=f"{shape.name}__{colour}") for name, shape in SHAPES.items()
    }
    for colour in COLOURS
}


def other(colour: str) -> Colour:
    return "green" if colour == "blue" else "blue"
