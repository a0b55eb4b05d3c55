"""Registry commands: imperative, validated at the edge (types, sizes); rules live in decide."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.contract import Command
from shared.events.registry import Affiliation, ErasureReason, Focus, PointKind
from shared.fields import BirthDate, CampaignDate, Text

Code = Field(min_length=1, max_length=10)
Id = Field(min_length=1, max_length=64)
Short = Field(min_length=1, max_length=200)
Skill = Annotated[Text, Field(max_length=100)]
CommuneCode = Annotated[str, Field(min_length=1, max_length=10)]


class RegisterVolunteer(Command):
    """Register a volunteer (consent required; one volunteer per phone number)."""

    province_fields = ("province_code",)

    full_name: Text = Field(max_length=400)
    phone: str = Field(max_length=40)
    birth_date: BirthDate
    province_code: str = Code
    commune_code: str = Code
    affiliation: Affiliation
    skills: list[Skill] = Field(default_factory=list, max_length=20)
    consent: bool
    guardian_consent: bool = False  # required under 16 on the registration date


class UpdateVolunteer(Command):
    """Change a volunteer's details; only the fields given change."""

    owned_fields = ("volunteer_id",)
    province_fields = ("province_code",)

    volunteer_id: str = Id
    full_name: Text | None = Field(default=None, max_length=400)
    phone: str | None = Field(default=None, max_length=40)
    province_code: str | None = Field(default=None, min_length=1, max_length=10)
    commune_code: str | None = Field(default=None, min_length=1, max_length=10)
    affiliation: Affiliation | None = None
    skills: list[Skill] | None = Field(default=None, max_length=20)


class WithdrawVolunteer(Command):
    """Withdraw a volunteer (they leave their team too)."""

    owned_fields = ("volunteer_id",)

    volunteer_id: str = Id
    reason: Text = Field(default="withdrawn", max_length=500)


class EraseVolunteer(Command):
    """Erase a volunteer's personal data (their key is deleted): consent withdrawn, the data
    subject's request, or a legal order. They leave their team and release their phone."""

    volunteer_id: str = Id
    reason: ErasureReason


class ExportVolunteer(Command):
    """One volunteer's personal data and history (teams, shifts) as JSON: the right of access."""

    volunteer_id: str = Id


class FormTeam(Command):
    """Form a team in a province (optionally a commune) with one focus of work."""

    province_fields = ("province_code",)

    name: Text = Field(max_length=400)
    province_code: str = Code
    commune_code: str | None = Field(default=None, min_length=1, max_length=10)
    focus: Focus
    organisation: Text = Short


class TeamMember(Command):
    owned_fields = ("team_id", "volunteer_id")

    team_id: str = Id
    volunteer_id: str = Id


class AddTeamMember(TeamMember):
    """Add a volunteer to a team (a volunteer is in at most one active team)."""


class RemoveTeamMember(TeamMember):
    """Take a volunteer out of a team."""


class AppointTeamLeader(TeamMember):
    """Appoint a member as the team's leader."""


class DisbandTeam(Command):
    """Disband a team; its members are free to join another."""

    owned_fields = ("team_id",)

    team_id: str = Id
    reason: Text = Field(default="disbanded", max_length=500)


class RegisterServicePoint(Command):
    """Register a service point: a provincial centre, a commune one-stop point, a community site."""

    province_fields = ("province_code",)

    name: Text = Field(max_length=400)
    kind: PointKind
    province_code: str = Code
    commune_code: str = Code


class DesignateBorderCommunes(Command):
    """Add communes to the campaign's border-commune list (a hub lists its own provinces' communes)."""

    commune_fields = ("commune_codes",)
    commune_codes: list[CommuneCode] = Field(min_length=1, max_length=5_000)
    effective_from: CampaignDate | None = None


# subject name (vhub.cmd.registry.<name>) -> command model; the use case of the same name serves it
# (shared.commands.CommandBus.serve)
COMMANDS: dict[str, type[Command]] = {
    "register_volunteer": RegisterVolunteer,
    "update_volunteer": UpdateVolunteer,
    "withdraw_volunteer": WithdrawVolunteer,
    "erase_volunteer": EraseVolunteer,
    "export_volunteer": ExportVolunteer,
    "form_team": FormTeam,
    "add_team_member": AddTeamMember,
    "remove_team_member": RemoveTeamMember,
    "appoint_team_leader": AppointTeamLeader,
    "disband_team": DisbandTeam,
    "register_service_point": RegisterServicePoint,
    "designate_border_communes": DesignateBorderCommunes,
}
