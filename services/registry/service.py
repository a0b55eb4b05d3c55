"""The registry's use cases: load → decide → append, across the aggregates a command touches.

Uniqueness across aggregates: a phone is claimed on its own subject (``registry.phone.<key>``, the
key a keyed pseudonym of the normalised number, so no personal data is in any subject) with
optimistic concurrency before the volunteer is recorded. Cascades (disband → members leave) are
idempotent per aggregate, so a retried command finishes what a crash left half done.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from functools import partial

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
from shared.events.registry import CONTEXT, VolunteerLeftTeam
from shared.eventstore import EventStore
from shared.settings import Settings

TZ_OFFSET = timedelta(hours=7)  # Asia/Ho_Chi_Minh has no daylight saving
BORDER_ID = "border_communes"


class Registry:
    def __init__(self, store: EventStore, settings: Settings) -> None:
        def repo(aggregate: str, initial, evolve):  # type: ignore[no-untyped-def]  # generic factory
            return Aggregates(store, context=CONTEXT, aggregate=aggregate, initial=initial,
                              evolve=evolve, cache_size=settings.snapshot_cache_size,
                              retries=settings.occ_retries)

        self._store = store
        self._key = settings.pii_key.get_secret_value().encode()
        self.volunteers: Aggregates[volunteer.Volunteer] = repo(
            "volunteer", volunteer.initial, volunteer.evolve)
        self.teams: Aggregates[team.Team] = repo("team", team.initial, team.evolve)
        self.phones: Aggregates[places.Claim] = repo("phone", places.Claim, places.evolve_claim)
        self.identities: Aggregates[places.Claim] = repo(
            "identity", places.Claim, places.evolve_claim)
        self.points: Aggregates[places.ServicePoint] = repo(
            "service_point", places.ServicePoint, places.evolve_point)
        self.campaign: Aggregates[places.BorderCommunes] = repo(
            "campaign", places.BorderCommunes, places.evolve_border)

    def pseudonym(self, *parts: str) -> str:
        """A keyed, one-way key for personal values (subjects must never carry them)."""
        return hmac.new(self._key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:32]

    # -- volunteers ----------------------------------------------------------------------------

    async def register_volunteer(self, cmd: RegisterVolunteer, ctx: CommandContext) -> Accepted:
        volunteer_id = derive_id(self._store.hub, "volunteer", ctx.command_id)
        today = (ctx.received_at + TZ_OFFSET).date()
        fields = volunteer.validate_registration(cmd, today)  # refuse before claiming anything
        await self._claim_phone(str(fields["phone"]), volunteer_id, ctx)
        identity = self.pseudonym(values.identity_name(str(fields["full_name"])),
                                  str(fields["birth_date"]), str(fields["province_code"]))
        seen = await self.identities.load(identity)
        dupes = [v for v in seen.state.holders if v != volunteer_id]
        outcome = await self.volunteers.execute(
            volunteer_id, ctx, lambda s: volunteer.register(
                s, cmd, volunteer_id=volunteer_id, today=today, possible_duplicates=dupes))
        await self.identities.execute(identity, ctx,
                                      lambda s: places.see_identity(s, volunteer_id))
        warnings = [{"code": "possible_duplicate", "duplicate_of": sorted(dupes),
                     "reason": "same name and birth date in this province"}] if dupes else []
        return Accepted.of(outcome, warnings=warnings)

    async def _claim_phone(self, phone: str, volunteer_id: str, ctx: CommandContext) -> None:
        key = self.pseudonym("phone", phone)
        claim = await self.phones.load(key)
        orphan = None
        if claim.state.owner not in (None, volunteer_id):
            owner = claim.state.owner
            assert owner is not None
            if (await self.volunteers.load(owner)).state.registered:
                raise Rejected("duplicate_volunteer", "this phone number is already registered",
                               existing_id=owner)
            last = await self._store.last(self.phones.subject(key))
            if last and ctx.received_at - last[0].envelope.recorded_at > places.ORPHAN_CLAIM_AFTER:
                orphan = owner  # a registration that claimed the phone and never completed
        await self.phones.execute(key, ctx, lambda s: places.claim_phone(
            s, volunteer_id, free_orphan=orphan))

    async def update_volunteer(self, cmd: UpdateVolunteer, ctx: CommandContext) -> Accepted:
        current = await self.volunteers.load(cmd.volunteer_id)
        volunteer.require_active(current.state, cmd.volunteer_id)
        phone = values.normalise_phone(cmd.phone) if cmd.phone is not None else None
        old_phone = current.state.phone
        if phone is not None and phone != old_phone:
            await self._claim_phone(phone, cmd.volunteer_id, ctx)
        outcome = await self.volunteers.execute(
            cmd.volunteer_id, ctx, lambda s: volunteer.update(s, cmd, phone=phone))
        if phone is not None and old_phone and phone != old_phone:
            await self.phones.execute(self.pseudonym("phone", old_phone), ctx,
                                      lambda s: places.release_phone(s, cmd.volunteer_id))
        return Accepted.of(outcome)

    async def withdraw_volunteer(self, cmd: WithdrawVolunteer, ctx: CommandContext) -> Accepted:
        outcome = await self.volunteers.execute(
            cmd.volunteer_id, ctx, lambda s: volunteer.withdraw(s, cmd.volunteer_id, cmd.reason))
        for team_id in await self._teams_left(cmd.volunteer_id, ctx.command_id):
            await self.teams.execute(team_id, ctx, partial(team.drop_member, team_id=team_id,
                                                           volunteer_id=cmd.volunteer_id))
        return Accepted.of(outcome)

    async def _teams_left(self, volunteer_id: str, command_id: str) -> list[str]:
        """Teams this command took the volunteer out of, read back from the log (so a retry
        after a crash finishes the cascade)."""
        history = await self._store.read(self.volunteers.subject(volunteer_id))
        return [str(r.envelope.data["team_id"]) for r in history
                if r.envelope.command_id == command_id
                and r.envelope.event_type == VolunteerLeftTeam.event_type]

    # -- teams ---------------------------------------------------------------------------------

    async def form_team(self, cmd: FormTeam, ctx: CommandContext) -> Accepted:
        team_id = derive_id(self._store.hub, "team", ctx.command_id)
        outcome = await self.teams.execute(team_id, ctx,
                                           lambda s: team.form(s, cmd, team_id=team_id))
        return Accepted.of(outcome)

    async def add_team_member(self, cmd: AddTeamMember, ctx: CommandContext) -> Accepted:
        current = await self.teams.load(cmd.team_id)
        if ctx.command_id not in current.commands:
            team.add_member(current.state, cmd.team_id, cmd.volunteer_id)  # refuse early
        await self.volunteers.execute(
            cmd.volunteer_id, ctx, lambda s: volunteer.join(s, cmd.volunteer_id, cmd.team_id))
        try:
            outcome = await self.teams.execute(
                cmd.team_id, ctx, lambda s: team.add_member(s, cmd.team_id, cmd.volunteer_id))
        except Rejected:  # the team changed in between (disbanded): undo the volunteer's side
            undo = CommandContext(f"{ctx.command_id}.undo", ctx.correlation_id, ctx.actor,
                                  ctx.received_at, ctx.command_id)
            await self.volunteers.execute(
                cmd.volunteer_id, undo, lambda s: volunteer.leave(s, cmd.volunteer_id,
                                                                  cmd.team_id))
            raise
        return Accepted.of(outcome)

    async def remove_team_member(self, cmd: RemoveTeamMember, ctx: CommandContext) -> Accepted:
        outcome = await self.teams.execute(
            cmd.team_id, ctx, lambda s: team.remove_member(s, cmd.team_id, cmd.volunteer_id))
        await self.volunteers.execute(
            cmd.volunteer_id, ctx, lambda s: volunteer.leave(s, cmd.volunteer_id, cmd.team_id))
        return Accepted.of(outcome)

    async def appoint_team_leader(self, cmd: AppointTeamLeader, ctx: CommandContext) -> Accepted:
        outcome = await self.teams.execute(
            cmd.team_id, ctx, lambda s: team.appoint_leader(s, cmd.team_id, cmd.volunteer_id))
        return Accepted.of(outcome)

    async def disband_team(self, cmd: DisbandTeam, ctx: CommandContext) -> Accepted:
        outcome = await self.teams.execute(
            cmd.team_id, ctx, lambda s: team.disband(s, cmd.team_id, cmd.reason))
        members = (await self.teams.load(cmd.team_id)).state.members
        for member in sorted(members):  # idempotent: a retry finishes a half-done cascade
            await self.volunteers.execute(
                member, ctx, partial(volunteer.leave, volunteer_id=member, team_id=cmd.team_id))
        return Accepted.of(outcome)

    # -- places --------------------------------------------------------------------------------

    async def register_service_point(self, cmd: RegisterServicePoint,
                                     ctx: CommandContext) -> Accepted:
        point_id = derive_id(self._store.hub, "service_point", ctx.command_id)
        outcome = await self.points.execute(
            point_id, ctx, lambda s: places.register_point(s, cmd, point_id=point_id))
        return Accepted.of(outcome)

    async def designate_border_communes(self, cmd: DesignateBorderCommunes,
                                        ctx: CommandContext) -> Accepted:
        outcome: Outcome = await self.campaign.execute(
            BORDER_ID, ctx, lambda s: places.designate(s, cmd))
        total = len((await self.campaign.load(BORDER_ID)).state.codes)
        return Accepted.of(outcome, result={"border_communes": total})

