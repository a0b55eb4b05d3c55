"""Registry commands: imperative, validated at the edge (types, sizes); rules live in decide."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from shared.commands import Command
from shared.events.registry import Affiliation, Focus, PointKind

Code = Field(min_length=1, max_length=10)
Id = Field(min_length=1, max_length=64)
Text = Field(min_length=1, max_length=200)


class RegisterVolunteer(Command):
    full_name: str = Field(max_length=400)
    phone: str = Field(max_length=40)
    birth_date: date
    province_code: str = Code
    commune_code: str = Code
    affiliation: Affiliation
    skills: list[str] = Field(default_factory=list, max_length=20)
    consent: bool


class UpdateVolunteer(Command):
    volunteer_id: str = Id
    full_name: str | None = Field(default=None, max_length=400)
    phone: str | None = Field(default=None, max_length=40)
    province_code: str | None = Field(default=None, min_length=1, max_length=10)
    commune_code: str | None = Field(default=None, min_length=1, max_length=10)
    affiliation: Affiliation | None = None
    skills: list[str] | None = Field(default=None, max_length=20)


class WithdrawVolunteer(Command):
    volunteer_id: str = Id
    reason: str = Field(default="withdrawn", max_length=500)


class FormTeam(Command):
    name: str = Field(max_length=400)
    province_code: str = Code
    commune_code: str | None = Field(default=None, min_length=1, max_length=10)
    focus: Focus
    organisation: str = Text


class TeamMember(Command):
    team_id: str = Id
    volunteer_id: str = Id


class AddTeamMember(TeamMember):
    pass


class RemoveTeamMember(TeamMember):
    pass


class AppointTeamLeader(TeamMember):
    pass


class DisbandTeam(Command):
    team_id: str = Id
    reason: str = Field(default="disbanded", max_length=500)


class RegisterServicePoint(Command):
    name: str = Field(max_length=400)
    kind: PointKind
    province_code: str = Code
    commune_code: str = Code


class DesignateBorderCommunes(Command):
    commune_codes: list[str] = Field(min_length=1, max_length=5_000)
    effective_from: date | None = None
