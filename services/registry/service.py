"""The registry's use cases: load → decide → append, across the aggregates a command touches.

A command that changes several aggregates records all their events in ONE atomic batch, each
aggregate guarded by its expected version (shared.transaction). Uniqueness across aggregates: a
phone is claimed on its own subject (``registry.phone.<key>``, the key a keyed pseudonym of the
normalised number, so no personal data is in any subject) together with the volunteer it names.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from services.registry.domain import places, team, values, volunteer
from services.registry.domain.commands import (
    AddTeamMember,
    AppointTeamLeader,
    DesignateBorderCommunes,
    DisbandTeam,
    FormTeam,
    RegisterServicePoint,
    RegisterVolunteer,
    RemoveTeamMember,
    UpdateVolunteer,
    WithdrawVolunteer,
)
from shared.aggregates import Aggregates, CommandContext, Outcome
from shared.commands import Accepted
from shared.decider import Rejected
from shared.envelope import derive_id
from shared.events import Event
from shared.events.registry import CONTEXT
from shared.eventstore import EventStore
from shared.settings import Settings
from shared.transaction import Target, transact

TZ_OFFSET = timedelta(hours=7)  # Asia/Ho_Chi_Minh has no daylight saving
BORDER_ID = "border_communes"


class Registry:
    def __init__(self, store: EventStore, settings: Settings) -> None:
        def repo(aggregate: str, initial, evolve, cached: bool = True):  # type: ignore[no-untyped-def]  # generic factory
            return Aggregates(
                store,
                context=CONTEXT,
                aggregate=aggregate,
                initial=initial,
                evolve=evolve,
                cache_size=settings.snapshot_cache_size if cached else 0,
                retries=settings.occ_retries,
            )

        self._store = store
        self._key = settings.pii_key.get_secret_value().encode()
        self.volunteers: Aggregates[volunteer.Volunteer] = repo(
            "volunteer", volunteer.initial, volunteer.evolve
        )
        self.teams: Aggregates[team.Team] = repo("team", team.initial, team.evolve)
        # claims are read once per registration and almost never again: caching them costs memory
        self.phones: Aggregates[places.Claim] = repo("phone", places.Claim, places.evolve_claim, cached=False)
        self.identities: Aggregates[places.Claim] = repo(
            "identity", places.Claim, places.evolve_claim, cached=False
        )
        self.points: Aggregates[places.ServicePoint] = repo(
            "service_point", places.ServicePoint, places.evolve_point
        )
        self.campaign: Aggregates[places.BorderCommunes] = repo(
            "campaign", places.BorderCommunes, places.evolve_border
        )

    def pseudonym(self, *parts: str) -> str:
        """A keyed, one-way key for personal values (subjects must never carry them)."""
        return hmac.new(self._key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:32]

    # -- volunteers ----------------------------------------------------------------------------

    async def register_volunteer(self, cmd: RegisterVolunteer, ctx: CommandContext) -> Accepted:
        """Phone claim, volunteer and identity key in ONE atomic batch: exactly one volunteer per
        phone, however many instances race, and nothing half-recorded after a crash."""
        volunteer_id = derive_id(self._store.hub, "volunteer", ctx.command_id)
        today = (ctx.received_at + TZ_OFFSET).date()
        fields = volunteer.validate_registration(cmd, today)  # refuse before reading anything
        phone_key = self.pseudonym("phone", str(fields["phone"]))
        identity = self.pseudonym(
            values.identity_name(str(fields["full_name"])),
            str(fields["birth_date"]),
            str(fields["province_code"]),
        )
        dupes: list[str] = []

        def decide(states: list[Any]) -> list[list[Event]]:
            claim, vol, seen = states
            dupes[:] = [v for v in seen.holders if v != volunteer_id]
            return [
                places.claim_phone(claim, volunteer_id),
                volunteer.register(
                    vol, cmd, volunteer_id=volunteer_id, today=today, possible_duplicates=dupes
                ),
                places.see_identity(seen, volunteer_id),
            ]

        _, outcome, _ = await transact(
            ctx,
            [
                Target(self.phones, phone_key),
                Target(self.volunteers, volunteer_id, new=True),
                Target(self.identities, identity),
            ],
            decide,
        )
        warnings = (
            [
                {
                    "code": "possible_duplicate",
                    "duplicate_of": sorted(dupes),
                    "reason": "same name and birth date in this province",
                }
            ]
            if dupes
            else []
        )
        return Accepted.of(outcome, warnings=warnings)

    async def update_volunteer(self, cmd: UpdateVolunteer, ctx: CommandContext) -> Accepted:
        """A new phone is claimed and the old one released in the same batch as the change."""
        current = await self.volunteers.load(cmd.volunteer_id)
        volunteer.require_active(current.state, cmd.volunteer_id)
        phone = values.normalise_phone(cmd.phone) if cmd.phone is not None else None
        old = current.state.phone
        targets = [Target(self.volunteers, cmd.volunteer_id)]
        moving = phone is not None and old is not None and phone != old
        if moving:
            targets += [
                Target(self.phones, self.pseudonym("phone", str(phone))),
                Target(self.phones, self.pseudonym("phone", str(old))),
            ]

        def decide(states: list[Any]) -> list[list[Event]]:
            vol = states[0]
            _unchanged(vol.phone == old)
            events = [volunteer.update(vol, cmd, phone=phone)]
            if moving:
                events += [
                    places.claim_phone(states[1], cmd.volunteer_id),
                    places.release_phone(states[2], cmd.volunteer_id),
                ]
            return events

        outcome, *_ = await transact(ctx, targets, decide)
        return Accepted.of(outcome)

    async def withdraw_volunteer(self, cmd: WithdrawVolunteer, ctx: CommandContext) -> Accepted:
        """Withdrawing leaves the team too, in the same batch."""
        team_id = (await self.volunteers.load(cmd.volunteer_id)).state.team_id
        targets = [Target(self.volunteers, cmd.volunteer_id)]
        if team_id:
            targets.append(Target(self.teams, team_id))

        def decide(states: list[Any]) -> list[list[Event]]:
            _unchanged(states[0].team_id == team_id)
            events = [volunteer.withdraw(states[0], cmd.volunteer_id, cmd.reason)]
            if team_id:
                events.append(team.drop_member(states[1], team_id, cmd.volunteer_id))
            return events

        outcome, *_ = await transact(ctx, targets, decide)
        return Accepted.of(outcome)

    # -- teams ---------------------------------------------------------------------------------

    async def form_team(self, cmd: FormTeam, ctx: CommandContext) -> Accepted:
        team_id = derive_id(self._store.hub, "team", ctx.command_id)
        [outcome] = await transact(
            ctx, [Target(self.teams, team_id, new=True)], lambda s: [team.form(s[0], cmd, team_id=team_id)]
        )
        return Accepted.of(outcome)

    async def add_team_member(self, cmd: AddTeamMember, ctx: CommandContext) -> Accepted:
        """Team and volunteer change together: one active team per volunteer holds exactly."""
        return await self._membership(cmd, ctx, team.add_member, volunteer.join)

    async def remove_team_member(self, cmd: RemoveTeamMember, ctx: CommandContext) -> Accepted:
        return await self._membership(cmd, ctx, team.remove_member, volunteer.leave)

    async def _membership(
        self,
        cmd: AddTeamMember | RemoveTeamMember,
        ctx: CommandContext,
        on_team: Callable[[team.Team, str, str], list[Event]],
        on_volunteer: Callable[[volunteer.Volunteer, str, str], list[Event]],
    ) -> Accepted:
        """A membership change: the team's side and the volunteer's side in one batch."""
        outcome, _ = await transact(
            ctx,
            [Target(self.teams, cmd.team_id), Target(self.volunteers, cmd.volunteer_id)],
            lambda s: [
                on_team(s[0], cmd.team_id, cmd.volunteer_id),
                on_volunteer(s[1], cmd.volunteer_id, cmd.team_id),
            ],
        )
        return Accepted.of(outcome)

    async def appoint_team_leader(self, cmd: AppointTeamLeader, ctx: CommandContext) -> Accepted:
        outcome = await self.teams.execute(
            cmd.team_id, ctx, lambda s: team.appoint_leader(s, cmd.team_id, cmd.volunteer_id)
        )
        return Accepted.of(outcome)

    async def disband_team(self, cmd: DisbandTeam, ctx: CommandContext) -> Accepted:
        """The team and every member's release, in one batch."""
        members = sorted((await self.teams.load(cmd.team_id)).state.members)
        targets = [Target(self.teams, cmd.team_id), *(Target(self.volunteers, m) for m in members)]

        def decide(states: list[Any]) -> list[list[Event]]:
            _unchanged(sorted(states[0].members) == members)
            return [
                team.disband(states[0], cmd.team_id, cmd.reason),
                *(volunteer.leave(s, m, cmd.team_id) for s, m in zip(states[1:], members, strict=True)),
            ]

        outcome, *_ = await transact(ctx, targets, decide)
        return Accepted.of(outcome)

    # -- places --------------------------------------------------------------------------------

    async def register_service_point(self, cmd: RegisterServicePoint, ctx: CommandContext) -> Accepted:
        point_id = derive_id(self._store.hub, "service_point", ctx.command_id)
        outcome = await self.points.execute(
            point_id, ctx, lambda s: places.register_point(s, cmd, point_id=point_id)
        )
        return Accepted.of(outcome)

    async def designate_border_communes(self, cmd: DesignateBorderCommunes, ctx: CommandContext) -> Accepted:
        outcome: Outcome = await self.campaign.execute(BORDER_ID, ctx, lambda s: places.designate(s, cmd))
        total = len((await self.campaign.load(BORDER_ID)).state.codes)
        return Accepted.of(outcome, result={"border_communes": total})


def _unchanged(same: bool) -> None:
    """What we read before choosing the aggregates changed in between: let the caller resend."""
    if not same:
        raise Rejected("concurrency_conflict", "the volunteer or team changed meanwhile; send again")
