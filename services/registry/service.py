"""The registry's use cases: load → decide → append, across the aggregates a command touches.

Each append is guarded by its aggregate's expected version (optimistic concurrency,
shared.transaction). Uniqueness across aggregates: a phone is claimed on its own subject
(``registry.phone.<key>``, the key a keyed pseudonym of the normalised number, so no personal data is
in any subject) before the volunteer it names is recorded. Registration is two single appends, not
one atomic batch: the server's batch path takes ~300 batches/s per stream, single appends several
thousand (docs/architecture.md §2). Commands that change a volunteer and a team together, or move a
phone, still use one atomic batch.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import structlog

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
from services.registry.identities import IdentityIndex
from shared.aggregates import Aggregates, CommandContext, Outcome
from shared.commands import Accepted
from shared.decider import Rejected
from shared.envelope import derive_id
from shared.events import Event
from shared.events.registry import CONTEXT, PossibleDuplicateFlagged
from shared.eventstore import EventStore
from shared.settings import Settings
from shared.transaction import Target, transact

log = structlog.get_logger(__name__)
TZ_OFFSET = timedelta(hours=7)  # Asia/Ho_Chi_Minh has no daylight saving
# A phone claim whose volunteer is still unrecorded after this long was left by a crashed writer
# (a registration takes milliseconds; a client gives up on a reply after seconds)
ORPHAN_AFTER = timedelta(minutes=2)
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
        self.identities = IdentityIndex(
            lambda name, birth, province: self.pseudonym(values.identity_name(name), birth, province)
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
        """Claim the phone, then record the volunteer: two single appends, each guarded by its
        subject's version, so exactly one volunteer per phone however many instances race.

        A writer that crashes between the two leaves a claim without a volunteer: the same command
        sent again finishes it (the claim names this command's volunteer id); a later registration
        of that phone, once the claim is ``ORPHAN_AFTER`` old, voids the unfinished registration on
        its own subject (so it can never land late) and takes the phone over.
        """
        volunteer_id = derive_id(self._store.hub, "volunteer", ctx.command_id)
        today = (ctx.received_at + TZ_OFFSET).date()
        fields = volunteer.validate_registration(cmd, today)  # refuse before reading anything
        await self._claim_phone(self.pseudonym("phone", str(fields["phone"])), volunteer_id, ctx)
        identity = self.identities.key(
            str(fields["full_name"]), str(fields["birth_date"]), str(fields["province_code"])
        )
        dupes = [v for v in self.identities.holders(identity) if v != volunteer_id]
        [outcome] = await transact(
            ctx,
            [Target(self.volunteers, volunteer_id, new=True)],
            lambda s: [
                volunteer.register(
                    s[0],
                    cmd,
                    volunteer_id=volunteer_id,
                    today=today,
                    possible_duplicates=dupes,
                    fields=fields,
                )
            ],
        )
        self.identities.add(identity, volunteer_id)
        if outcome.duplicate:  # a resend: the same warning as the first answer, from the log
            dupes = await self._flagged(volunteer_id, outcome)
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

    async def _claim_phone(self, phone_key: str, volunteer_id: str, ctx: CommandContext) -> None:
        """The phone for ``volunteer_id``, or Rejected(duplicate_volunteer) naming its holder."""
        try:
            # most numbers are new: append the claim expecting an empty subject without reading it
            # first; a taken number fails that check, and the retry reads and refuses
            await transact(
                ctx,
                [Target(self.phones, phone_key, new=True)],
                lambda s: [places.claim_phone(s[0], volunteer_id)],
            )
        except Rejected as refused:
            holder = str(refused.details.get("existing_id", ""))
            if refused.code != "duplicate_volunteer" or not await self._unfinished(phone_key, holder, ctx):
                raise
            # void the holder's registration first (guarded by its version: if it landed after
            # all, this refuses and the phone stays its), then take the claim over
            await transact(ctx, [Target(self.volunteers, holder)], lambda s: [volunteer.void(s[0], holder)])
            self.volunteers.forget(holder)
            log.warning("phone_claim_taken_over", voided=holder, volunteer_id=volunteer_id)
            await transact(
                ctx,
                [Target(self.phones, phone_key)],
                lambda s: [places.claim_phone(s[0], volunteer_id, taking_over=holder)],
            )

    async def _flagged(self, volunteer_id: str, outcome: Outcome) -> list[str]:
        if not any(e.event_type == PossibleDuplicateFlagged.event_type for e in outcome.events):
            return []
        for rec in await self._store.read(self.volunteers.subject(volunteer_id)):
            if rec.envelope.event_type == PossibleDuplicateFlagged.event_type:
                return [str(v) for v in rec.envelope.data.get("duplicate_of", [])]
        return []

    async def _unfinished(self, phone_key: str, holder: str, ctx: CommandContext) -> bool:
        """Is ``holder``'s claim one whose volunteer was never recorded, and old enough to be
        abandoned (not a registration still in flight)?"""
        if not holder or (await self.volunteers.load(holder)).state.registered:
            return False
        last = await self._store.last(self.phones.subject(phone_key))
        return last is not None and ctx.received_at - last[0].envelope.recorded_at >= ORPHAN_AFTER

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
        """The volunteer's side first (it holds the one-active-team rule), then the team's. If the
        team refuses in between (disbanded meanwhile), the join is undone and the command refused."""
        await self._refuse_early(cmd, ctx, team.add_member)
        vol, team_id = cmd.volunteer_id, cmd.team_id
        await self._write(ctx, self.volunteers, vol, lambda v: volunteer.join(v, vol, team_id))
        try:
            outcome = await self._write(ctx, self.teams, team_id, lambda t: team.add_member(t, team_id, vol))
        except Rejected:
            undo = replace(ctx, command_id=f"{ctx.command_id}:undo", causation_id=ctx.command_id)
            await self._write(undo, self.volunteers, vol, lambda v: volunteer.leave(v, vol, team_id))
            raise
        return Accepted.of(outcome)

    async def remove_team_member(self, cmd: RemoveTeamMember, ctx: CommandContext) -> Accepted:
        """The team's side first, then the volunteer's (free to join another team only after)."""
        await self._refuse_early(cmd, ctx, team.remove_member)
        vol, team_id = cmd.volunteer_id, cmd.team_id
        outcome = await self._write(ctx, self.teams, team_id, lambda t: team.remove_member(t, team_id, vol))
        await self._write(ctx, self.volunteers, vol, lambda v: volunteer.leave(v, vol, team_id))
        return Accepted.of(outcome)

    async def _refuse_early(
        self,
        cmd: AddTeamMember | RemoveTeamMember,
        ctx: CommandContext,
        rule: Callable[[team.Team, str, str], list[Event]],
    ) -> None:
        """The team's rules before anything is written (a resend skips them: it is answered from
        the log)."""
        snap = await self.teams.load(cmd.team_id)
        if ctx.command_id not in snap.commands:
            rule(snap.state, cmd.team_id, cmd.volunteer_id)

    @staticmethod
    async def _write(
        ctx: CommandContext, repo: Aggregates[Any], aggregate_id: str, decide: Callable[[Any], list[Event]]
    ) -> Outcome:
        """One aggregate, one single append (a membership is two of these in a fixed order: the
        server's atomic batches cap at a few hundred per second; see docs/architecture.md §2)."""
        [outcome] = await transact(ctx, [Target(repo, aggregate_id)], lambda s: [decide(s[0])])
        return outcome

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
