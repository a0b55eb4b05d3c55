"""The registry's use cases: load → decide → append, through the shared write path
(:class:`shared.transaction.Writer`), across the aggregates a command touches.

Uniqueness across aggregates: a volunteer's id is a slot of their phone's pseudonym, so a
registration is ONE append whose expected sequence covers the slot (:mod:`services.registry.phones`).
Membership is two single appends in a fixed order, not one atomic batch: the server's batch path
takes ~300 batches/s per stream, single appends several thousand (docs/architecture.md §2).
Commands that change a volunteer and a team together, or move a phone, use one atomic batch
(``transact``).

Just past the ~250-line guide on purpose: the table of the registry's volunteer and team handlers
reads as one list beside the command table (places are campaign.py, erasure and export privacy.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from services.registry.domain import places, team, values, volunteer
from services.registry.domain.commands import (
    AddTeamMember,
    AppointTeamLeader,
    DisbandTeam,
    FormTeam,
    RegisterVolunteer,
    RemoveTeamMember,
    TeamMember,
    UpdateVolunteer,
    WithdrawVolunteer,
)
from services.registry.identities import IdentityIndex
from services.registry.keypool import KeyPool
from services.registry.keystore import KeyStore
from services.registry.phones import LegacyClaims, PhoneSlots
from services.registry.privacy import keep_erased
from services.registry.sealing import PersonalCodec, identity_pseudonym, keyed, phone_pseudonym
from shared.aggregates import PLAIN, Aggregates, CommandContext, Outcome
from shared.commands import Accepted
from shared.decider import EvolveFn, Rejected
from shared.events import Event
from shared.events.registry import CONTEXT, PossibleDuplicateFlagged
from shared.eventstore import ConcurrencyConflictError, EventStore
from shared.ownership import owned_id
from shared.settings import Settings
from shared.transaction import Target, Writer

TZ_OFFSET = timedelta(hours=7)  # Asia/Ho_Chi_Minh has no daylight saving
MemberRule = Callable[[team.Team, str, str], list[Event]]


class Registry:
    """One replica's use cases. ``writer``: the write path (tests substitute one here)."""

    def __init__(
        self,
        store: EventStore,
        settings: Settings,
        *,
        writer: Writer | None = None,
        keys: KeyStore | None = None,
    ) -> None:
        self._store = self.store = store
        self._writer = self.writer = writer or Writer(store, retries=settings.occ_retries)
        self._pseudonym = keyed(settings.pii_key.get_secret_value().encode())
        self.keys = keys or KeyStore.of(store.jetstream, settings)
        self.key_pool = KeyPool(self.keys, size=settings.key_pool_size)  # started by the app
        self.codec = PersonalCodec(self.keys, self.pseudonym, seal=settings.pii_sealing, pool=self.key_pool)

        def repo(
            aggregate: str, initial: Callable[[], Any], evolve: EvolveFn[Any], cached: bool = True
        ) -> Any:
            size = settings.snapshot_cache_size if cached else 0
            codec = self.codec if aggregate == "volunteer" else PLAIN
            return Aggregates(
                store,
                context=CONTEXT,
                aggregate=aggregate,
                initial=initial,
                evolve=evolve,
                cache_size=size,
                codec=codec,
            )

        self.volunteers: Aggregates[volunteer.Volunteer] = repo(
            "volunteer", volunteer.initial, volunteer.evolve
        )
        self.teams: Aggregates[team.Team] = repo("team", team.initial, team.evolve)
        # claims are read once per registration and almost never again: caching them costs memory
        self.phones: Aggregates[places.Claim] = repo("phone", places.Claim, places.evolve_claim, cached=False)
        self.points: Aggregates[places.ServicePoint] = repo(
            "service_point", places.ServicePoint, places.evolve_point
        )
        self.campaign: Aggregates[places.BorderCommunes] = repo(
            "campaign", places.BorderCommunes, places.evolve_border
        )
        self.claims = PhoneSlots(self._writer, self.phones, self.volunteers, LegacyClaims())
        self.identities = IdentityIndex(
            lambda name, birth: identity_pseudonym(self.pseudonym, name, birth),
            keep_erased(self.keys),
            legacy=self.claims.legacy,
        )

    def pseudonym(self, *parts: str) -> str:
        """A keyed, one-way key for personal values (subjects must never carry them)."""
        return self._pseudonym(*parts)

    async def register_volunteer(self, cmd: RegisterVolunteer, ctx: CommandContext) -> Accepted:
        """One append on the phone's first free slot, guarded over the slot, so exactly one
        volunteer per phone however many instances race (services/registry/phones.py)."""
        today = (ctx.received_at + TZ_OFFSET).date()
        fields = volunteer.validate_registration(cmd, today)  # refuse before reading anything
        identity = self.identities.key_of(
            str(fields["full_name"]), str(fields["birth_date"]), str(fields["province_code"])
        )
        dupes: list[str] = []

        async def write_at(volunteer_id: str, guarded: bool) -> Outcome:
            if not guarded:  # to be answered from the log (phones.py)
                await self._refuse_erased(volunteer_id)
            dupes[:] = [v for v in self.identities.holders(identity) if v != volunteer_id]
            guard = self.claims.guard(volunteer_id) if guarded else None
            async with self.codec.fresh_key(volunteer_id):  # durable already (keypool.py)
                outcome = await self._writer.write(
                    ctx,
                    Target(self.volunteers, volunteer_id, new=guarded, guard=guard),
                    lambda s: volunteer.register(
                        s,
                        cmd,
                        volunteer_id=volunteer_id,
                        today=today,
                        possible_duplicates=dupes,
                        fields=fields,
                    ),
                )
            if outcome.duplicate:  # answered from the log (or this replica's cache of it)
                await self._refuse_erased(volunteer_id)
            return outcome

        phone_key = phone_pseudonym(self.pseudonym, str(fields["phone"]))
        outcome = await self.claims.register(phone_key, ctx, write_at)
        volunteer_id = outcome.aggregate_id
        self.identities.add(identity, volunteer_id)
        if outcome.duplicate:  # a resend: the same warning as the first answer, from the log
            dupes = await self._flagged(volunteer_id, outcome)
        reason = "same name and birth date in this province"
        warnings = [{"code": "possible_duplicate", "duplicate_of": sorted(dupes), "reason": reason}]
        return Accepted.of(outcome, warnings=warnings if dupes else [])

    async def _refuse_erased(self, volunteer_id: str) -> None:
        """An erased volunteer stays erased: their registration is never answered again (before
        issue 14 the purged key, named by the volunteer id, refused to be created again)."""
        if (await self.volunteers.load(volunteer_id)).state.erased:
            raise Rejected("volunteer_erased", "this volunteer was erased; register anew")

    async def _flagged(self, volunteer_id: str, outcome: Outcome) -> list[str]:
        if not any(e.event_type == PossibleDuplicateFlagged.event_type for e in outcome.events):
            return []
        for rec in await self._store.read(self.volunteers.subject(volunteer_id)):
            if rec.envelope.event_type == PossibleDuplicateFlagged.event_type:
                return [str(v) for v in rec.envelope.data.get("duplicate_of", [])]
        return []

    async def update_volunteer(self, cmd: UpdateVolunteer, ctx: CommandContext) -> Accepted:
        """A new phone is claimed (its first free slot) and the old one released in the same
        batch as the change; a race for the new number is decided again from the log."""
        for _ in range(self._writer.retries + 1):
            try:
                return await self._update(cmd, ctx)
            except ConcurrencyConflictError:
                continue  # the new number's slot was taken meanwhile: look again
        raise Rejected("concurrency_conflict", "the phone number kept changing hands; send again")

    async def _update(self, cmd: UpdateVolunteer, ctx: CommandContext) -> Accepted:
        current = await self.volunteers.load(cmd.volunteer_id)
        if ctx.command_id in current.commands:
            outcome = await self._writer.write(ctx, Target(self.volunteers, cmd.volunteer_id), lambda s: [])
            return Accepted.of(outcome)
        volunteer.require_active(current.state, cmd.volunteer_id)
        personal = cmd.full_name is not None or cmd.phone is not None
        key_id = current.state.key_id or cmd.volunteer_id  # (plaintext v2: the old form's id)
        key = await self.keys.get(key_id) if personal and self.codec.seal else None
        if personal and self.codec.seal and key is None:
            raise Rejected(
                "personal_data_key_missing", "this volunteer's data key is gone (docs/operating.md)"
            )
        phone = values.normalise_phone(cmd.phone) if cmd.phone is not None else None
        old = current.state.phone
        targets = [Target(self.volunteers, cmd.volunteer_id)]
        moving = phone is not None and old is not None and phone != old
        released: Target | None = None
        if moving:
            targets.append(await self.claims.claim_target(self._phone_key(phone), cmd.volunteer_id))
            released = await self.claims.release_target(self._phone_key(old), cmd.volunteer_id)
            if released is not None:
                targets.append(released)

        def decide(states: list[Any]) -> list[list[Event]]:
            vol = states[0]
            _unchanged(vol.phone == old)
            events = [volunteer.update(vol, cmd, phone=phone)]
            if moving:
                events.append(places.claim_phone(states[1], cmd.volunteer_id))
            if released is not None:
                events.append(places.release_phone(states[2], cmd.volunteer_id))
            return events

        if key is None:
            outcome, *_ = await self._writer.transact(ctx, targets, decide)
        else:
            with self.codec.using(cmd.volunteer_id, key_id, key):
                outcome, *_ = await self._writer.transact(ctx, targets, decide)
        return Accepted.of(outcome)

    def _phone_key(self, phone: str | None) -> str:
        return phone_pseudonym(self.pseudonym, str(phone))

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

        outcome, *_ = await self._writer.transact(ctx, targets, decide)
        return Accepted.of(outcome)

    async def form_team(self, cmd: FormTeam, ctx: CommandContext) -> Accepted:
        team_id = owned_id(self._store.hub, "team", ctx.command_id)
        outcome = await self._writer.write(
            ctx, Target(self.teams, team_id, new=True), lambda s: team.form(s, cmd, team_id=team_id)
        )
        return Accepted.of(outcome)

    async def add_team_member(self, cmd: AddTeamMember, ctx: CommandContext) -> Accepted:
        """The volunteer's side first (it holds the one-active-team rule), then the team's. If the
        team refuses in between (disbanded meanwhile), the join is undone and the command refused."""
        await self._refuse_early(cmd, ctx, team.add_member)
        vol, team_id = cmd.volunteer_id, cmd.team_id
        write = self._writer.write
        await write(ctx, Target(self.volunteers, vol), lambda v: volunteer.join(v, vol, team_id))
        try:
            outcome = await write(
                ctx, Target(self.teams, team_id), lambda t: team.add_member(t, team_id, vol)
            )
        except Rejected:
            undo = replace(ctx, command_id=f"{ctx.command_id}:undo", causation_id=ctx.command_id)
            await write(undo, Target(self.volunteers, vol), lambda v: volunteer.leave(v, vol, team_id))
            raise
        return Accepted.of(outcome)

    async def remove_team_member(self, cmd: RemoveTeamMember, ctx: CommandContext) -> Accepted:
        """The team's side first, then the volunteer's (free to join another team only after)."""
        await self._refuse_early(cmd, ctx, team.remove_member)
        vol, team_id = cmd.volunteer_id, cmd.team_id
        write = self._writer.write
        outcome = await write(ctx, Target(self.teams, team_id), lambda t: team.remove_member(t, team_id, vol))
        await write(ctx, Target(self.volunteers, vol), lambda v: volunteer.leave(v, vol, team_id))
        return Accepted.of(outcome)

    async def _refuse_early(self, cmd: TeamMember, ctx: CommandContext, rule: MemberRule) -> None:
        """The team's rules before anything is written (a resend skips them: it is answered from
        the log). A cached team that passes is trusted (the team's own append is guarded and
        undoes the join if it refuses after all); only a refusal is checked against the log."""
        snap = self.teams.cached(cmd.team_id)
        if snap is not None and (ctx.command_id in snap.commands or _passes(rule, snap.state, cmd)):
            return
        snap = await self.teams.load(cmd.team_id)
        if ctx.command_id not in snap.commands:
            rule(snap.state, cmd.team_id, cmd.volunteer_id)

    async def appoint_team_leader(self, cmd: AppointTeamLeader, ctx: CommandContext) -> Accepted:
        outcome = await self._writer.write(
            ctx,
            Target(self.teams, cmd.team_id),
            lambda s: team.appoint_leader(s, cmd.team_id, cmd.volunteer_id),
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

        outcome, *_ = await self._writer.transact(ctx, targets, decide)
        return Accepted.of(outcome)


def _unchanged(same: bool) -> None:
    """What we read before choosing the aggregates changed in between: let the caller resend."""
    if not same:
        raise Rejected("concurrency_conflict", "the volunteer or team changed meanwhile; send again")


def _passes(rule: MemberRule, state: team.Team, cmd: TeamMember) -> bool:
    try:
        rule(state, cmd.team_id, cmd.volunteer_id)
    except Rejected:
        return False
    return True
