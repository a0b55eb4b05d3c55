"""Ownership from ids alone (shared.ownership): minted ids name their hub, legacy ids read as central's,
and a hub refuses what another hub owns with the owner in the refusal's details."""

from __future__ import annotations

from datetime import date

import pytest

from services.dispatch.domain.commands import CheckIn, PlanRotation, RequestCoverage
from services.registry.domain.commands import AddTeamMember, DesignateBorderCommunes, RegisterServicePoint
from shared.decider import Rejected
from shared.envelope import derive_id
from shared.hubs import hub_of_province
from shared.ownership import OWNED_BY_OTHER_HUB, Ownership, id_hub, owned_id

HCM_TEAM = owned_id("hcm", "team", "form-1")
HN_VOLUNTEER = owned_id("hn", "volunteer", "reg-1")
LEGACY = derive_id("hn", "volunteer", "reg-1")  # an id recorded before ids carried their hub


def test_a_minted_id_is_the_hub_then_the_uuid5_it_always_was() -> None:
    """The uuid part is unchanged, so the hub prefix is all that is new."""
    assert f"hn-{LEGACY}" == HN_VOLUNTEER
    assert id_hub(HN_VOLUNTEER) == "hn"
    assert id_hub(HCM_TEAM) == "hcm"


@pytest.mark.parametrize("legacy", [LEGACY, "deadbeef-5537-52f0-89a5-b04b4285a56c", "t1", "team-1", ""])
def test_an_id_without_a_prefix_names_no_hub(legacy: str) -> None:
    """A bare uuid, even one whose first group is all letters, never reads as a hub prefix."""
    assert id_hub(legacy) is None


def test_derived_ids_keep_their_owner_in_front() -> None:
    """A dispatch id (team id + token) and a coverage key (point id + date) name the same hub."""
    point = owned_id("ct", "service_point", "p-1")
    assert id_hub(f"{HCM_TEAM}:0123456789ab") == "hcm"
    assert id_hub(f"{point}_20250710:0123456789ab") == "ct"


def test_legacy_ids_belong_to_the_central_hub_and_standalone_hubs_own_theirs() -> None:
    assert Ownership.of("hcm").owner(LEGACY) == "hn"
    assert Ownership.of("hn").owner(LEGACY) == "hn"
    assert Ownership.of("tunlisted").owner("t1") == "tunlisted"
    assert Ownership.of("hcm", standalone=True).owner("t1") == "hcm"
    assert Ownership.of("tunlisted").owner(HCM_TEAM) == "hcm"
    assert Ownership.of("hn", standalone=True).owner(HCM_TEAM) == "hcm"


def refuse_foreign(command: object, *, hub: str, context: str, name: str, standalone: bool = False) -> None:
    Ownership.of(hub, standalone=standalone).refuse_foreign(command, context=context, name=name)  # type: ignore[arg-type]


def refusal(command: object, hub: str, context: str = "registry", name: str = "x") -> Rejected:
    with pytest.raises(Rejected) as caught:
        refuse_foreign(command, hub=hub, context=context, name=name)
    return caught.value


def test_a_hub_refuses_another_hubs_aggregate_naming_the_owner() -> None:
    """An hcm team at hn: owned_by_other_hub, the owner and where to send it, never the id itself."""
    cmd = AddTeamMember(team_id=HCM_TEAM, volunteer_id=HN_VOLUNTEER)
    rej = refusal(cmd, "hn", name="add_team_member")
    assert rej.code == OWNED_BY_OTHER_HUB
    assert rej.details == {
        "owner": "hcm",
        "field": "team_id",
        "subject": "vhub.cmd.hcm.registry.add_team_member",
    }
    assert HCM_TEAM not in rej.reason
    refuse_foreign(
        AddTeamMember(team_id=HCM_TEAM, volunteer_id=owned_id("hcm", "volunteer", "r")),
        hub="hcm",
        context="registry",
        name="add_team_member",
    )


def test_a_hub_refuses_a_place_in_a_province_it_does_not_serve() -> None:
    point = RegisterServicePoint(name="Điểm", kind="community_site", province_code="79", commune_code="26734")
    assert hub_of_province("79") == "hcm"
    rej = refusal(point, "hn", name="register_service_point")
    assert (rej.code, rej.details["owner"], rej.details["field"]) == (
        OWNED_BY_OTHER_HUB,
        "hcm",
        "province_code",
    )
    refuse_foreign(point, hub="hcm", context="registry", name="register_service_point")
    refuse_foreign(point, hub="tunlisted", context="registry", name="register_service_point")
    refuse_foreign(point, hub="hn", context="registry", name="register_service_point", standalone=True)


def test_lists_of_ids_are_checked_one_by_one() -> None:
    mine, theirs = owned_id("hn", "service_point", "a"), owned_id("dn", "service_point", "b")
    team = owned_id("hn", "team", "t")
    plan = PlanRotation(
        team_id=team,
        service_point_ids=[mine, theirs],
        from_date=date(2025, 7, 10),
        to_date=date(2025, 7, 11),
        daily_starts_at="08:00",
        daily_ends_at="12:00",
    )
    rej = refusal(plan, "hn", "dispatch", "plan_rotation")
    assert (rej.details["owner"], rej.details["field"]) == ("dn", "service_point_ids")


def test_dispatch_ids_and_coverage_keys_are_checked_by_their_owner() -> None:
    rej = refusal(CheckIn(dispatch_id=f"{HCM_TEAM}:0123456789ab", at="2025-07-10T08:00:00+07:00"), "ag")
    assert rej.details["owner"] == "hcm"
    cover = RequestCoverage(
        service_point_id=owned_id("ag", "service_point", "x"),
        date=date(2025, 7, 10),
        starts_at="08:00",
        ends_at="12:00",
        teams_needed=1,
    )
    refuse_foreign(cover, hub="ag", context="dispatch", name="request_coverage")


def test_border_communes_are_listed_by_the_hub_serving_their_province() -> None:
    """A hub lists only its own provinces' communes as border communes; a list holding another
    hub's commune is refused with that owner named."""
    hanoi, saigon = "00004", "26734"
    assert hub_of_province("01") == "hn"
    assert hub_of_province("79") == "hcm"
    rej = refusal(DesignateBorderCommunes(commune_codes=[saigon, hanoi]), "hcm", name="designate")
    assert (rej.code, rej.details["owner"]) == (OWNED_BY_OTHER_HUB, "hn")
    assert rej.details["field"] == "commune_codes"
    own = DesignateBorderCommunes(commune_codes=[saigon])
    refuse_foreign(own, hub="hcm", context="registry", name="x")
    other = DesignateBorderCommunes(commune_codes=[hanoi])
    refuse_foreign(other, hub="hcm", context="registry", name="x", standalone=True)
