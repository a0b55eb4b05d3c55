"""The pure reporting projection: events → row changes, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.reporting import models
from services.reporting.projections import Loaded, fold, wanted
from services.reporting.projections.rows import DayRow, TeamRow
from shared.events import dispatch as d
from shared.events import registry as r

DAY = date(2025, 7, 2)
HN, COMMUNE = "01", "00004"


def registered(vid: str, commune: str = COMMUNE, province: str = HN) -> r.VolunteerRegistered:
    return r.VolunteerRegistered(
        volunteer_id=vid,
        full_name="Lê Văn C",
        phone="+84900000000",
        birth_date=date(2001, 2, 3),
        province_code=province,
        commune_code=commune,
        affiliation="youth_union",
        skills=[],
    )


def formed(tid: str) -> r.TeamFormed:
    return r.TeamFormed(
        team_id=tid,
        name="Đội 1",
        province_code=HN,
        commune_code=COMMUNE,
        focus="digital_skills",
        organisation="Đoàn",
    )


def shift(kind: type[d.TeamCheckedIn], tid: str, n: int = 0) -> d.TeamCheckedIn:
    return kind(
        service_point_id="sp1",
        province_code=HN,
        commune_code=COMMUNE,
        date=DAY,
        dispatch_id=f"d{n}",
        team_id=tid,
        at=datetime(2025, 7, 2, 8, tzinfo=UTC),
    )


def test_a_registration_seen_twice_counts_once() -> None:
    """Registering the same volunteer twice (a replayed fact) adds one active volunteer."""
    changes = fold([registered("v1"), registered("v1")], Loaded())
    assert changes.figures[("campaign", "")]["active_volunteers"] == 1
    assert changes.affiliation[("province", HN, "youth_union")] == 1


def test_moving_a_volunteer_moves_the_count() -> None:
    """An update of the commune takes the volunteer from the old commune to the new one."""
    events = [registered("v1"), r.VolunteerUpdated(volunteer_id="v1", commune_code="00008")]
    changes = fold(events, Loaded())
    assert changes.figures[("commune", COMMUNE)]["active_volunteers"] == 0
    assert changes.figures[("commune", "00008")]["active_volunteers"] == 1
    assert changes.figures[("campaign", "")]["active_volunteers"] == 1


def test_membership_told_by_volunteer_and_team_counts_once() -> None:
    """The volunteer's and the team's record of one membership give one member."""
    events = [
        formed("t1"),
        r.VolunteerJoinedTeam(volunteer_id="v1", team_id="t1"),
        r.TeamMemberAdded(team_id="t1", volunteer_id="v1"),
        r.TeamMemberAdded(team_id="t1", volunteer_id="v2"),
    ]
    changes = fold(events, Loaded())
    assert changes.state.teams["t1"].members == 2
    assert changes.figures[("province", HN)]["active_teams"] == 1
    assert changes.focus[("campaign", "", "digital_skills")] == 1


def test_two_shifts_a_day_make_one_active_team_that_day() -> None:
    """A team checking in twice on one day is one active team with its members that day."""
    events = [
        formed("t1"),
        r.TeamMemberAdded(team_id="t1", volunteer_id="v1"),
        shift(d.TeamCheckedIn, "t1", 0),
        shift(d.TeamCheckedIn, "t1", 1),
    ]
    changes = fold(events, Loaded())
    day = changes.daily[(DAY, "province", HN)]
    assert (day["check_ins"], day["active_teams"], day["active_volunteers"]) == (2, 1, 1)
    assert len(changes.new_team_days) == 3  # campaign, province, commune


def test_a_team_already_active_that_day_in_the_store_is_not_counted_again() -> None:
    """Rows loaded from an earlier batch keep the daily count distinct across batches."""
    loaded = Loaded(team_days={(DAY, "t1", "campaign", "")})
    changes = fold([shift(d.TeamCheckedIn, "t1")], loaded)
    assert changes.daily[(DAY, "campaign", "")]["active_teams"] == 0
    assert changes.daily[(DAY, "province", HN)]["active_teams"] == 1


def test_a_cancelled_dispatch_nets_to_nothing() -> None:
    """Dispatch then cancel leaves the dispatch count where it was, on the figures and the point."""
    where = {
        "service_point_id": "sp1",
        "province_code": HN,
        "commune_code": COMMUNE,
        "date": DAY,
        "dispatch_id": "d1",
        "team_id": "t1",
    }
    at = datetime(2025, 7, 2, 8, tzinfo=UTC)
    events = [
        d.TeamDispatched(**where, starts_at=at, ends_at=at, focus="admin_support"),
        d.DispatchCancelled(**where, reason="rain"),
    ]
    changes = fold(events, Loaded())
    assert changes.figures[("campaign", "")]["dispatches"] == 0
    assert changes.coverage[(DAY, "sp1")].dispatched == 0


def test_wanted_names_every_row_the_fold_reads() -> None:
    """The store loads exactly the volunteers, teams, memberships and team-days a batch needs."""
    events = [
        registered("v1"),
        r.PossibleDuplicateFlagged(volunteer_id="v2", duplicate_of=["v1"]),
        r.TeamMemberAdded(team_id="t1", volunteer_id="v3"),
        shift(d.TeamCheckedIn, "t2"),
    ]
    want = wanted(events)
    assert want.volunteers == {"v1", "v2"}
    assert want.duplicates == {"v2"}
    assert want.teams == {"t1", "t2"}
    assert want.memberships == {("t1", "v3")}
    assert want.team_days == {(DAY, "t2")}


def test_no_table_has_a_personal_column() -> None:
    """No read model stores a name, phone or birth date."""
    personal = {"full_name", "name", "phone", "birth_date"}
    for table in [*models.SHAPES.values(), *models.CONTROL_TABLES]:
        assert personal.isdisjoint(table.columns.keys()), table.name


def _rotation_forms() -> tuple[list[d.TeamRotationPlanned], list[d.TeamDispatched]]:
    """One rotation of three days over two communes, as one event and as the old batch form."""
    shifts = [
        d.RotationShift(
            dispatch_id=f"t1:{n}",
            service_point_id=f"sp{n % 2}",
            province_code=HN,
            commune_code=(COMMUNE, "00008")[n % 2],
            date=date(2025, 7, 2 + n),
            starts_at=datetime(2025, 7, 2 + n, 1, tzinfo=UTC),
            ends_at=datetime(2025, 7, 2 + n, 5, tzinfo=UTC),
        )
        for n in range(3)
    ]
    one = d.TeamRotationPlanned(rotation_id="r1", team_id="t1", focus="digital_skills", shifts=shifts)
    batch = [
        d.TeamDispatched(**s.model_dump(), team_id="t1", focus="digital_skills", rotation_id="r1")
        for s in shifts
    ]
    return [one], batch


def test_a_rotation_event_counts_as_its_old_batch_form() -> None:
    """The one rotation event and the batch of TeamDispatched it replaces fold to the same
    figures, days, coverage and team rows, and the same restatements of a closed day; each
    contribution names the event that carries it (the rotation's one sequence for all its days)."""
    one, batch = _rotation_forms()
    closed = {("h", date(2025, 7, 3)): DayRow("h", date(2025, 7, 3), 1)}
    results = []
    for events, seqs in ((one, [10]), (batch, [10, 11, 12])):
        loaded = Loaded(teams={"t1": TeamRow("t1", HN, COMMUNE, "digital_skills", "o")}, days=dict(closed))
        assert wanted(events).days == {date(2025, 7, 2), date(2025, 7, 3), date(2025, 7, 4)}
        results.append(fold(events, loaded, [(s, "h", None) for s in seqs]))
    new, old = results
    assert new.figures == old.figures
    assert new.figures[("campaign", "")]["dispatches"] == 3
    assert new.daily == old.daily
    assert new.coverage == old.coverage
    assert new.state.teams == old.state.teams
    assert new.state.teams["t1"].dispatches == 3
    assert [r[:2] + r[3:] for r in new.restated] == [r[:2] + r[3:] for r in old.restated]
    assert [r[2] for r in new.restated] == [10]
    assert [r[2] for r in old.restated] == [11]
    assert new.trail is not None
    assert old.trail is not None
    assert [t[:4] + t[5:] for t in new.trail] == [t[:4] + t[5:] for t in old.trail]
    assert {t[4] for t in new.trail} == {10}
    assert [t[4] for t in old.trail] == [10, 11, 12]
