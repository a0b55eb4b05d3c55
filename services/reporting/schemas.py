"""The shapes of the read API's answers (its OpenAPI ``response_model``s and error bodies).

The routes return ready-made bytes (the answer cache), so these models document and are checked
by the contract tests (the committed ``docs/openapi.json`` and schemathesis against a running
service); they are not re-validated per request.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.reporting import models as m

Focus = Literal["admin_support", "online_public_services", "digital_skills"]
Covered = Literal["day", "week", "never"]


class HubFreshness(BaseModel):
    """How far an answer goes in one hub's log, and whether that log is reaching it (hubfresh.py)."""

    hub: str
    position: int = Field(ge=0, description="the hub's own log position: the version its replies return")
    last_event_at: str | None = Field(description="ISO 8601: the hub's last applied event")
    lag: int | None = Field(description="the hub's events not reflected yet; null when it cannot be asked")
    source: Literal["local", "active", "cut_off", "unknown"] = Field(
        description="local: this stream is the hub's own; active or cut_off: its source at central"
    )
    cut_off_since: str | None = Field(description="ISO 8601: when a cut-off source last heard from it")


class Freshness(BaseModel):
    """The log position an answer reflects, when its last applied event was recorded, and the
    same per hub."""

    position: int = Field(ge=0)
    last_event_at: str | None = Field(description="ISO 8601; null before the first event")
    hubs: list[HubFreshness]


class Figures(BaseModel):
    """The counted figures of one area (or one day of it)."""

    active_teams: int
    active_volunteers: int
    dispatches: int
    check_ins: int
    no_shows: int
    people_supported: int
    businesses_supported: int
    officials_supported: int
    online_applications_guided: int
    digital_sessions_held: int
    session_attendees: int
    elderly_attendees: int
    activity_reports: int
    over_capacity: int


# One list of figures: the table, the API and the CSV columns never drift apart.
assert tuple(Figures.model_fields) == m.FIGURES


class Answer(BaseModel):
    freshness: Freshness


class Marks(BaseModel):
    """Whether the figures' period was published (a hub closed one of its days), and when they
    were last restated (a fact of a published day arrived after its close): ``/v1/restatements``."""

    published: bool
    restated_at: str | None = Field(description="ISO 8601; null when never restated")


class National(BaseModel):
    """Each person once across hubs (``/v1/duplicates?scope=national`` lists the pairs): the
    registration recorded first counts, a later one at another hub is a duplicate until resolved."""

    duplicate_pairs_unresolved: int
    active_volunteers_counted_once: int = Field(description="active_volunteers less the unresolved pairs")


class Summary(Answer, Marks):
    """The campaign's figures and breakdowns."""

    figures: Figures
    national: National
    teams_by_focus: dict[str, int]
    volunteers_by_affiliation: dict[str, int]
    border_communes: int
    possible_duplicates: int
    first_day: date | None


class Area(Answer, Marks):
    """One province or commune."""

    level: Literal["province", "commune"]
    code: str
    name: str
    figures: Figures
    teams_by_focus: dict[str, int]
    volunteers_by_affiliation: dict[str, int]


class AreaRow(Figures, Marks):
    code: str
    name: str


class AreaList(Answer):
    items: list[AreaRow]


class CommuneList(AreaList):
    province_code: str


class DayRow(Figures, Marks):
    day: date


class DailyList(Answer):
    province_code: str | None
    items: list[DayRow]


class TeamRow(BaseModel):
    team_id: str
    province_code: str
    commune_code: str | None
    focus: str
    organisation: str
    active: bool
    members: int
    dispatches: int
    check_ins: int
    no_shows: int
    people_supported: int


class TeamPage(Answer):
    page: int
    page_size: int
    total: int
    items: list[TeamRow]


class BorderRow(BaseModel):
    commune_code: str
    province_code: str
    effective_from: date | None
    name: str | None
    covered_day: int = Field(ge=0, le=1)
    covered_week: int = Field(ge=0, le=1)
    days_covered: int
    last_covered: date | None


class BorderList(Answer):
    date: date
    covered: Covered | None
    items: list[BorderRow]


class CoverageRow(BaseModel):
    day: date
    service_point_id: str
    province_code: str
    commune_code: str
    requested: int
    dispatched: int
    check_ins: int
    over_capacity: int
    shortfall: int


class CoverageList(Answer):
    date: date | None
    items: list[CoverageRow]


class DuplicateRow(BaseModel):
    volunteer_id: str
    province_code: str
    duplicate_of: str = Field(description="comma-separated volunteer ids")


class DuplicateList(Answer):
    items: list[DuplicateRow]


class HubEvents(HubFreshness):
    events_applied: int = Field(description="the hub's events counted in the figures")


class FreshnessList(Answer):
    """Freshness per hub (a hub's own reporting: one; central's: every hub it sources), with the
    events applied per hub and the dead letters of the stream read."""

    hubs: list[HubEvents]
    events_applied: int
    dead_lettered: int = Field(description="events reporting refused (in the dead-letter stream)")


# -- errors -------------------------------------------------------------------------------------


class Problem(BaseModel):
    reason: str = Field(description="machine-readable, e.g. unknown_province, bad_range")
    message: str


class Behind(Problem):
    reason: Literal["projection_behind"]
    position: int
    min_position: int
    hub: str | None = Field(description="the hub whose log is behind; null: the stream read")


class NotFound(BaseModel):
    detail: Problem


class Invalid(BaseModel):
    """A refused parameter: FastAPI's list of validation errors, or one problem (e.g. from > to)."""

    detail: Problem | list[dict[str, Any]]


class ProjectionBehind(BaseModel):
    detail: Behind


# Columns of each list's CSV (the JSON items carry the same fields).
MARK_COLUMNS = list(Marks.model_fields)
AREA_COLUMNS = ["code", "name", *m.FIGURES, *MARK_COLUMNS]
TEAM_COLUMNS = list(m.SHAPES["team"].columns.keys())
COVERAGE_COLUMNS = [*m.SHAPES["coverage"].columns.keys(), "shortfall"]
BORDER_COLUMNS = [*m.SHAPES["border"].columns.keys(), "name", "covered_day", "covered_week"]
BORDER_COLUMNS += ["days_covered", "last_covered"]
DAY_COLUMNS = ["day", *m.FIGURES, *MARK_COLUMNS]
DUPLICATE_COLUMNS = list(DuplicateRow.model_fields)
