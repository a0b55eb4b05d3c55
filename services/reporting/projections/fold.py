"""The reporting projection: events → row changes. Pure: no clock, no I/O, same input same output.

A batch is folded in two steps so the store can read what it needs in a few statements:
:func:`wanted` names the entity rows the batch touches, the store loads them, then :func:`fold`
applies every event to an accumulator of counter deltas and replaced rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from services.reporting.projections.rows import (
    BorderRow,
    Changes,
    DayRow,
    DuplicateRow,
    Loaded,
    VolunteerRow,
    Wanted,
    areas,
)
from services.reporting.projections.teams import TEAM_HANDLERS, team_wanted
from shared.events import Event
from shared.events import dispatch as d
from shared.events import registry as r
from shared.refdata import communes

Handler = Callable[[Changes, Any], None]


def wanted(events: Iterable[Event]) -> Wanted:
    """The entity rows folding ``events`` will read."""
    out = Wanted()
    for e in events:
        if isinstance(e, r.VolunteerRegistered | r.VolunteerUpdated | r.VolunteerWithdrawn):
            out.volunteers.add(e.volunteer_id)
        elif isinstance(e, r.PossibleDuplicateFlagged):
            out.volunteers.add(e.volunteer_id)
            out.duplicates.add(e.volunteer_id)
        else:
            team_wanted(out, e)
            if isinstance(e, d.TeamRotationPlanned):  # dispatch facts: is their day closed?
                out.days.update(s.date for s in e.shifts)
                continue
            day = getattr(e, "date", None)
            if isinstance(day, date):
                out.days.add(day)
    return out


Origin = tuple[int, str, datetime | None]  # an event's stream sequence, hub and recorded_at


def fold(
    events: Iterable[Event],
    loaded: Loaded,
    origins: Sequence[Origin] | None = None,
    *,
    trail: bool = True,
) -> Changes:
    """Apply ``events`` in order on top of ``loaded``; events no figure depends on are skipped.
    With ``origins`` (each event's stream sequence, hub and time), the changes also hold the
    restatements of closed days and, with ``trail``, the provenance ``trail``."""
    changes = Changes(state=loaded)
    handlers = HANDLERS
    if origins is None:
        for e in events:
            handler = handlers.get(type(e))
            if handler is not None:
                handler(changes, e)
        return changes.settle()
    if trail:
        changes.trail = []
    fold_into(changes, events, origins)
    return changes.settle()


def fold_into(changes: Changes, events: Iterable[Event], origins: Sequence[Origin]) -> None:
    """Apply ``events`` (at ``origins``) on top of ``changes``, not yet settled: a group folded in
    parts, one part as it arrives (a rebuild's fold worker), equals :func:`fold` of the whole."""
    handlers = HANDLERS
    for (seq, hub, at), e in zip(origins, events, strict=True):
        handler = handlers.get(type(e))
        if handler is not None:
            changes.seq, changes.hub, changes.at = seq, hub, at
            handler(changes, e)


# -- volunteers ---------------------------------------------------------------------------------


def _count_volunteer(c: Changes, v: VolunteerRow, n: int) -> None:
    for level, code in areas(v.province_code, v.commune_code):
        c.figures[(level, code)]["active_volunteers"] += n
        c.affiliation[(level, code, v.affiliation)] += n


def _registered(c: Changes, e: r.VolunteerRegistered) -> None:
    if e.volunteer_id in c.state.volunteers:
        return  # already known: a registration is counted once
    v = VolunteerRow(e.volunteer_id, e.province_code, e.commune_code, e.affiliation)
    c.state.volunteers[e.volunteer_id] = v
    c.dirty_volunteers.add(e.volunteer_id)
    _count_volunteer(c, v, +1)


def _updated(c: Changes, e: r.VolunteerUpdated) -> None:
    v = c.state.volunteers.get(e.volunteer_id)
    if v is None or not (e.province_code or e.commune_code or e.affiliation):
        return
    if v.active:
        _count_volunteer(c, v, -1)
    v.province_code = e.province_code or v.province_code
    v.commune_code = e.commune_code or v.commune_code
    v.affiliation = e.affiliation or v.affiliation
    if v.active:
        _count_volunteer(c, v, +1)
    c.dirty_volunteers.add(e.volunteer_id)


def _withdrawn(c: Changes, e: r.VolunteerWithdrawn) -> None:
    v = c.state.volunteers.get(e.volunteer_id)
    if v is None or not v.active:
        return
    v.active = False
    c.dirty_volunteers.add(e.volunteer_id)
    _count_volunteer(c, v, -1)


def _duplicate(c: Changes, e: r.PossibleDuplicateFlagged) -> None:
    known = c.state.duplicates.get(e.volunteer_id)
    ids = set(known.duplicate_of.split(",")) if known else set()
    ids.update(e.duplicate_of)
    v = c.state.volunteers.get(e.volunteer_id)
    province = v.province_code if v else (known.province_code if known else "")
    c.state.duplicates[e.volunteer_id] = DuplicateRow(
        e.volunteer_id, province, ",".join(sorted(i for i in ids if i))
    )
    c.dirty_duplicates.add(e.volunteer_id)


def _border(c: Changes, e: r.BorderCommunesDesignated) -> None:
    known = communes()
    for code in e.commune_codes:
        commune = known.get(code)
        c.border[code] = BorderRow(code, commune.province_code if commune else "", e.effective_from)


# -- dispatch facts that only count ---------------------------------------------------------------


def _coverage_requested(c: Changes, e: d.CoverageRequested) -> None:
    c.cover(e.date, e.service_point_id, e.province_code, e.commune_code).requested += e.teams_needed


def _activity(c: Changes, e: d.ActivityReported) -> None:
    counts = {
        "people_supported": e.people_supported,
        "businesses_supported": e.businesses_supported,
        "officials_supported": e.officials_supported,
        "online_applications_guided": e.online_applications_guided,
        "digital_sessions_held": e.digital_sessions_held,
        "session_attendees": e.session_attendees,
        "elderly_attendees": e.elderly_attendees,
        "activity_reports": 1,
    }
    c.count_many(e.province_code, e.commune_code, counts, e.date)
    team = c.state.teams.get(e.team_id)
    if team is not None:
        team.people_supported += e.people_supported
        c.dirty_teams.add(e.team_id)


def _corrected(c: Changes, e: d.FieldReportCorrected) -> None:
    """A report corrected: each count moves by its change; the report still counts once."""
    c.count_many(e.province_code, e.commune_code, dict(e.change), e.date)
    team = c.state.teams.get(e.team_id)
    moved = e.change.get("people_supported", 0)
    if team is not None and moved:
        team.people_supported += moved
        c.dirty_teams.add(e.team_id)


def _over_capacity(c: Changes, e: d.OverCapacityRecorded) -> None:
    c.count(e.province_code, e.commune_code, "over_capacity", 1, e.date)
    c.cover(e.date, e.service_point_id, e.province_code, e.commune_code).over_capacity += 1


def _day_closed(c: Changes, e: d.DayClosed) -> None:
    key = (e.hub, e.date)
    if key not in c.state.days:  # from here on, the hub's facts of the day are restatements
        c.state.days[key] = DayRow(e.hub, e.date, c.seq)
        c.dirty_days.add(key)


def _day_published(c: Changes, e: d.DayFiguresPublished) -> None:
    key = (e.hub, e.date)
    row = c.state.days.get(key)
    if row is None:  # never without its close; if it were, this is where the day was cut
        row = c.state.days[key] = DayRow(e.hub, e.date, c.seq)
    if row.published_seq is None:
        row.published_seq, row.published_at = c.seq, c.at.isoformat() if c.at else None
        c.dirty_days.add(key)


HANDLERS: dict[type[Event], Handler] = {
    r.VolunteerRegistered: _registered,
    r.VolunteerUpdated: _updated,
    r.VolunteerWithdrawn: _withdrawn,
    r.PossibleDuplicateFlagged: _duplicate,
    r.BorderCommunesDesignated: _border,
    d.CoverageRequested: _coverage_requested,
    d.ActivityReported: _activity,
    d.FieldReportCorrected: _corrected,
    d.OverCapacityRecorded: _over_capacity,
    d.DayClosed: _day_closed,
    d.DayFiguresPublished: _day_published,
    **TEAM_HANDLERS,
}
