"""Registry rules as pure given/when/then tests: no I/O."""

from __future__ import annotations

from datetime import date

import pytest

from services.registry.domain import places, team, values, volunteer
from services.registry.domain.commands import (
    DesignateBorderCommunes,
    FormTeam,
    RegisterServicePoint,
    RegisterVolunteer,
    UpdateVolunteer,
)
from shared.decider import Rejected, fold
from shared.events.registry import (
    PossibleDuplicateFlagged,
    TeamFormed,
    TeamMemberAdded,
    VolunteerRegistered,
)

TODAY = date(2025, 7, 1)


def reg(**over: object) -> RegisterVolunteer:
    base: dict[str, object] = dict(
        full_name="  Nguyễn   Văn An ",
        phone="0912 345 678",
        birth_date=date(2003, 5, 4),
        province_code="1",
        commune_code="70",
        affiliation="youth_union",
        skills=["Dịch vụ công", "dịch vụ công"],
        consent=True,
    )
    return RegisterVolunteer.model_validate({**base, **over})


def registered(**over: object) -> volunteer.Volunteer:
    events = volunteer.register(
        volunteer.initial(), reg(**over), volunteer_id="v1", today=TODAY, possible_duplicates=[]
    )
    return fold(volunteer.evolve, volunteer.initial(), events)


def rejected(fn: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(Rejected) as err:
        fn(*args, **kwargs)  # type: ignore[operator]  # any decide function
    return err.value.code


# -- volunteers -----------------------------------------------------------------------------------


def test_registration_normalises_name_phone_codes_and_skills() -> None:
    """Given a messy form, when registered, then the event holds the normalised values."""
    [ev] = volunteer.register(
        volunteer.initial(), reg(), volunteer_id="v1", today=TODAY, possible_duplicates=[]
    )
    assert isinstance(ev, VolunteerRegistered)
    assert ev.full_name == "Nguyễn Văn An"
    assert ev.phone == "+84912345678"
    assert (ev.province_code, ev.commune_code) == ("01", "00070")
    assert ev.skills == ["dịch vụ công"]


@pytest.mark.parametrize(
    "raw", ["0912345678", "+84912345678", "84912345678", "+84 91-234.5678", "0084912345678"]
)
def test_phone_forms_of_one_number_are_the_same(raw: str) -> None:
    """0xxxxxxxxx, +84xxxxxxxxx and their punctuated forms normalise to one E.164 number."""
    assert values.normalise_phone(raw) == "+84912345678"


@pytest.mark.parametrize("raw", ["12345", "0112345678", "+1 202 555 0100", "09123456789", "phone"])
def test_invalid_phones_are_refused(raw: str) -> None:
    """A number that is not a Vietnamese mobile or landline is refused as invalid_phone."""
    assert rejected(values.normalise_phone, raw) == "invalid_phone"


def test_name_is_nfc_normalised() -> None:
    """A decomposed (NFD) name is stored composed (NFC), so equal names compare equal."""
    import unicodedata

    nfd = unicodedata.normalize("NFD", "Trần Thị Bích")
    assert values.normalise_name(nfd) == unicodedata.normalize("NFC", "Trần Thị Bích")


@pytest.mark.parametrize(
    ("name", "code"),
    [("A", "invalid_full_name"), ("x" * 121, "invalid_full_name"), ("12345", "invalid_full_name")],
)
def test_names_are_bounded(name: str, code: str) -> None:
    """Names too short, too long or without letters are refused."""
    assert (
        rejected(
            volunteer.register,
            volunteer.initial(),
            reg(full_name=name),
            volunteer_id="v1",
            today=TODAY,
            possible_duplicates=[],
        )
        == code
    )


def test_no_consent_is_refused() -> None:
    """Without consent nothing is recorded."""
    assert (
        rejected(
            volunteer.register,
            volunteer.initial(),
            reg(consent=False),
            volunteer_id="v1",
            today=TODAY,
            possible_duplicates=[],
        )
        == "consent_required"
    )


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"province_code": "99"}, "unknown_province"),
        ({"commune_code": "99999"}, "unknown_commune"),
        ({"province_code": "79"}, "commune_outside_province"),  # 00070 is in Hà Nội, not HCMC
        ({"birth_date": date(2030, 1, 1)}, "invalid_birth_date"),
        ({"birth_date": date(2020, 1, 1)}, "invalid_birth_date"),
    ],
)
def test_places_and_birth_dates_are_checked(over: dict[str, object], code: str) -> None:
    """Unknown codes, a commune outside its province, impossible ages: each its own code."""
    assert (
        rejected(
            volunteer.register,
            volunteer.initial(),
            reg(**over),
            volunteer_id="v1",
            today=TODAY,
            possible_duplicates=[],
        )
        == code
    )


def test_same_name_and_birth_date_is_flagged_not_refused() -> None:
    """A possible duplicate is accepted and recorded as a PossibleDuplicateFlagged fact."""
    events = volunteer.register(
        volunteer.initial(), reg(), volunteer_id="v2", today=TODAY, possible_duplicates=["v1"]
    )
    assert isinstance(events[1], PossibleDuplicateFlagged)
    assert events[1].duplicate_of == ["v1"]


def test_identity_key_ignores_case_and_diacritics() -> None:
    """'Nguyễn Văn Đức' typed without accents is the same identity."""
    assert values.identity_name("Nguyễn Văn Đức") == values.identity_name("nguyen van  duc")


def test_withdrawn_volunteer_cannot_join_a_team() -> None:
    state = fold(volunteer.evolve, registered(), volunteer.withdraw(registered(), "v1", "moved"))
    assert rejected(volunteer.join, state, "v1", "t1") == "volunteer_withdrawn"


def test_volunteer_is_in_at_most_one_active_team() -> None:
    """Joining a second team while in one is refused, naming the first."""
    state = fold(volunteer.evolve, registered(), volunteer.join(registered(), "v1", "t1"))
    with pytest.raises(Rejected) as err:
        volunteer.join(state, "v1", "t2")
    assert err.value.code == "already_in_team"
    assert err.value.details["team_id"] == "t1"


def test_withdrawal_leaves_the_team_first() -> None:
    state = fold(volunteer.evolve, registered(), volunteer.join(registered(), "v1", "t1"))
    events = volunteer.withdraw(state, "v1", "moved")
    assert [e.event_type for e in events] == ["registry.volunteer_left_team", "registry.volunteer_withdrawn"]


def test_update_records_only_changes() -> None:
    state = registered()
    cmd = UpdateVolunteer(volunteer_id="v1", full_name="Nguyễn Văn An", commune_code="73")
    [ev] = volunteer.update(state, cmd, phone=None)
    assert ev.model_dump(exclude_none=True) == {"volunteer_id": "v1", "commune_code": "00073"}
    assert volunteer.update(state, UpdateVolunteer(volunteer_id="v1"), phone=None) == []


# -- teams ----------------------------------------------------------------------------------------

FORM = FormTeam(
    name="Đội hình Hoàn Kiếm",
    province_code="01",
    commune_code="00070",
    focus="digital_skills",
    organisation="Đoàn phường Hoàn Kiếm",
)


def formed(*members: str) -> team.Team:
    events = [
        *team.form(team.initial(), FORM, team_id="t1"),
        *(TeamMemberAdded(team_id="t1", volunteer_id=m) for m in members),
    ]
    return fold(team.evolve, team.initial(), events)


def test_team_is_formed_once_with_checked_place() -> None:
    [ev] = team.form(team.initial(), FORM, team_id="t1")
    assert isinstance(ev, TeamFormed)
    assert rejected(team.form, formed(), FORM, team_id="t1") == "duplicate_team"
    bad = FORM.model_copy(update={"commune_code": "26506"})
    assert rejected(team.form, team.initial(), bad, team_id="t2") == "commune_outside_province"


def test_disbanded_team_takes_no_members() -> None:
    state = fold(team.evolve, formed(), team.disband(formed(), "t1", "done"))
    assert rejected(team.add_member, state, "t1", "v1") == "team_disbanded"


def test_leader_must_be_a_member() -> None:
    assert rejected(team.appoint_leader, formed("v1"), "t1", "v2") == "leader_not_member"
    assert team.appoint_leader(formed("v1"), "t1", "v1")[0].event_type == ("registry.team_leader_appointed")


def test_removing_the_leader_clears_the_leader() -> None:
    state = fold(team.evolve, formed("v1"), team.appoint_leader(formed("v1"), "t1", "v1"))
    state = fold(team.evolve, state, team.remove_member(state, "t1", "v1"))
    assert state.leader is None
    assert rejected(team.remove_member, state, "t1", "v1") == "not_a_member"


def test_unknown_team_is_refused() -> None:
    assert rejected(team.add_member, team.initial(), "t9", "v1") == "unknown_team"


# -- places and claims ----------------------------------------------------------------------------


def test_phone_claim_refuses_a_second_owner() -> None:
    """A held number is refused to anyone else, naming the holder; claiming it again is a no-op."""
    held = places.Claim(owner="v1")
    assert rejected(places.claim_phone, held, "v2") == "duplicate_volunteer"
    assert places.claim_phone(places.Claim(), "v2")[0].event_type == "registry.phone_claimed"
    assert places.claim_phone(held, "v1") == []
    released = places.evolve_claim(held, places.release_phone(held, "v1")[0])
    assert places.claim_phone(released, "v2")[0].event_type == "registry.phone_claimed"


def test_border_communes_are_checked_and_added() -> None:
    cmd = DesignateBorderCommunes(commune_codes=["70", "73"])
    [ev] = places.designate(places.BorderCommunes(), cmd)
    state = places.evolve_border(places.BorderCommunes(), ev)
    assert state.codes == {"00070", "00073"}
    assert places.designate(state, cmd) == []
    bad = DesignateBorderCommunes(commune_codes=["70", "nope"])
    assert rejected(places.designate, state, bad) == "unknown_commune"


def test_service_point_is_registered_in_its_commune() -> None:
    cmd = RegisterServicePoint(
        name="Trung tâm phục vụ hành chính công",
        kind="commune_one_stop",
        province_code="01",
        commune_code="00070",
    )
    [ev] = places.register_point(places.ServicePoint(), cmd, point_id="p1")
    assert ev.model_dump()["commune_code"] == "00070"
    state = places.evolve_point(places.ServicePoint(), ev)
    assert rejected(places.register_point, state, cmd, point_id="p1") == "duplicate_service_point"
