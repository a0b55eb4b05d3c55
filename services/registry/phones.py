"""One volunteer per phone number, across every replica, in ONE append (issue 14).

A phone's keyed pseudonym ``p`` (services/registry/sealing.py) names a chain of *slots*. Slot
``g`` is the id ``V(p, g) = <hub>-<uuid5 of p and g>`` (:meth:`PhoneSlots.slot_id`) and the two
subjects that carry it as their last token: ``registry.volunteer.<V>`` and ``registry.phone.<V>``.
A registration appends ``VolunteerRegistered`` on ``registry.volunteer.<V(p, g)>`` expecting
sequence 0 over ``registry.*.<V(p, g)>`` (``Nats-Expected-Last-Subject-Sequence-Subject``, the
target's ``guard``): it lands only if nobody registered there *and* nobody claimed the slot, so
the append is the uniqueness check. In the common case (a new number) that is slot 0, written
without reading anything first: one append per registration.

The rare cases read the chain (slow path, :meth:`PhoneSlots.slot`). A slot is *held* by the
volunteer registered on it, or by the volunteer a ``PhoneClaimed`` on its claim subject names
(``update_volunteer`` moving someone onto the number claims the first free slot, guarded the same
way, in the batch that records the change); it is *released* for good by a ``PhoneReleased`` on
its claim subject (its claimant moved to another number, or was erased), or, for the volunteer
registered on it, by their own events: a phone change or their erasure (an event on
``registry.phone.<V>`` in the same command as one on ``registry.volunteer.<V>`` would share its
Msg-Id, ``<hub>:<command>:<aggregate id>:<n>``). A registration walks past released slots to the
first free one; a held slot refuses it ``duplicate_volunteer``, naming the holder.

Logs written before issue 14 hold *legacy claims*, ``registry.phone.<p>``, and volunteers whose
id is a uuid5 of their command id. A legacy claim still held refuses a registration and a move
onto its number. New code never writes a legacy claim, only releases one, so a replica that has
replayed the log's claims (:class:`LegacyClaims`, fed by the identity feed before commands are
served) knows every number that may still hold one, and reads only those. A legacy claim whose
volunteer never got recorded (an old writer died between its two appends) is finished by the same
command sent again, or, once ``ORPHAN_AFTER`` old, voided and released for someone else. Old
registry replicas must be stopped before new ones start (docs/operating.md): an old replica's
claim, written after the new replicas replayed the log, would not be seen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog

from services.registry.domain import places, volunteer
from shared.aggregates import Aggregates, CommandContext, Outcome, Snapshot
from shared.decider import Rejected
from shared.envelope import event_subject
from shared.events.registry import PhoneClaimed, PhoneReleased
from shared.eventstore import ConcurrencyConflictError
from shared.ownership import id_hub, owned_id
from shared.transaction import Target, Writer

log = structlog.get_logger(__name__)
# A phone claim whose volunteer is still unrecorded after this long was left by a crashed writer
# (a registration takes milliseconds; a client gives up on a reply after seconds)
ORPHAN_AFTER = timedelta(minutes=2)
MAX_STEPS = 64  # slots walked and conflicts re-read before a registration gives up (resend)
SLOT_KIND = "volunteer_phone"
# (volunteer id, guarded) -> the registration appended there
WriteAt = Callable[[str, bool], Awaitable[Outcome]]


@dataclass
class LegacyClaims:
    """The numbers that may still hold a legacy claim, as far as this replica has replayed the log.
    Until ``complete`` (the replay caught up) every number may."""

    held: set[str] = field(default_factory=set)
    seen: bool = False  # the log holds legacy claims at all (so legacy volunteer ids, too)
    complete: bool = False

    def may_hold(self, phone_key: str) -> bool:
        return not self.complete or phone_key in self.held

    @property
    def possible(self) -> bool:
        return not self.complete or self.seen

    def apply(self, phone_key: str, ev: Any) -> None:
        """A claim event from the log; ``phone_key`` its subject's id (slots' ids are skipped)."""
        if id_hub(phone_key) is not None:
            return
        self.seen = True
        if isinstance(ev, PhoneClaimed):
            self.held.add(phone_key)
        elif isinstance(ev, PhoneReleased):
            self.held.discard(phone_key)


@dataclass(frozen=True)
class Slot:
    slot_id: str
    volunteer: Snapshot[volunteer.Volunteer]
    claim: Snapshot[places.Claim]

    @property
    def holder(self) -> str | None:
        if self.claim.state.owner is not None:
            return self.claim.state.owner
        vol = self.volunteer
        if self.claim.version or not vol.version or vol.state.erased or vol.state.moved:
            return None
        return self.slot_id

    @property
    def free(self) -> bool:
        return not self.claim.version and not self.volunteer.version


class PhoneSlots:
    def __init__(
        self,
        writer: Writer,
        phones: Aggregates[places.Claim],
        volunteers: Aggregates[volunteer.Volunteer],
        legacy: LegacyClaims | None = None,
    ) -> None:
        self._writer = writer
        self._phones = phones
        self._volunteers = volunteers
        self._hub = writer.store.hub
        self.legacy = legacy or LegacyClaims()

    def slot_id(self, phone_key: str, g: int) -> str:
        """The id of slot ``g`` of the number: a keyed pseudonym's uuid5, so it names no phone to
        anyone without ``VHUB_PII_KEY``."""
        return owned_id(self._hub, SLOT_KIND, f"{phone_key}:{g}")

    def guard(self, slot_id: str) -> str:
        return event_subject(self._hub, "registry", "*", slot_id)

    async def slot(self, phone_key: str, g: int) -> Slot:
        sid = self.slot_id(phone_key, g)
        return Slot(sid, await self._volunteers.load(sid), await self._phones.load(sid))

    async def register(self, phone_key: str, ctx: CommandContext, write_at: WriteAt) -> Outcome:
        """Record a registration of the number on its first free slot (``write_at``), or refuse
        it ``duplicate_volunteer`` naming the holder; a resend is answered where it landed."""
        if self.legacy.may_hold(phone_key):
            legacy = await self._legacy_holder(phone_key, ctx)
            if legacy is not None:
                if legacy == owned_id(self._hub, "volunteer", ctx.command_id):
                    return await write_at(legacy, False)  # an old writer's claim: finish it
                return await self._refuse(legacy, ctx, write_at)
        g, read = 0, False  # the common case: slot 0 is free, so append without reading
        for _ in range(MAX_STEPS):
            if read:
                slot = await self.slot(phone_key, g)
                if ctx.command_id in slot.volunteer.commands:
                    # a resend past the server's duplicate window (the Msg-Id no longer answers
                    # it): answered from the log, unguarded, as the slot's own registration
                    return await write_at(slot.slot_id, False)
                if slot.holder is not None:
                    return await self._refuse(slot.holder, ctx, write_at)
                if not slot.free:
                    g += 1
                    continue
            try:
                return await write_at(self.slot_id(phone_key, g), True)
            except ConcurrencyConflictError:
                read = True  # the slot is taken (or was, a moment ago): read what holds it
            except Rejected as refused:
                if refused.code not in ("duplicate_volunteer", "volunteer_erased") or read:
                    raise
                read = True
        raise Rejected("concurrency_conflict", "this phone number kept changing hands; send again")

    async def _refuse(self, holder: str, ctx: CommandContext, write_at: WriteAt) -> Outcome:
        """Refuse, unless this command is an old registration (a legacy id): answer that one."""
        if self.legacy.possible:
            legacy_id = owned_id(self._hub, "volunteer", ctx.command_id)
            if (await self._volunteers.load(legacy_id)).version:
                return await write_at(legacy_id, False)  # its answer, or its refusal (voided)
        raise Rejected("duplicate_volunteer", "this phone number is already registered", existing_id=holder)

    async def _legacy_holder(self, phone_key: str, ctx: CommandContext) -> str | None:
        """Who a legacy claim gives the number to; an abandoned one is voided and released."""
        claim = (await self._phones.load(phone_key)).state
        holder = claim.owner
        if holder is None or holder == owned_id(self._hub, "volunteer", ctx.command_id):
            return holder
        if (await self._volunteers.load(holder)).state.registered:
            return holder
        last = await self._writer.store.last(self._phones.subject(phone_key))
        if last is None or ctx.received_at - last[0].envelope.recorded_at < ORPHAN_AFTER:
            return holder  # perhaps still in flight
        # void the holder first (guarded by its version: if it landed after all, this refuses
        # and the number stays its), then release the claim
        write = self._writer.write
        await write(ctx, Target(self._volunteers, holder), lambda s: volunteer.void(s, holder))
        self._volunteers.forget(holder)
        await write(ctx, Target(self._phones, phone_key), lambda s: places.release_phone(s, holder))
        self.legacy.held.discard(phone_key)
        log.warning("phone_claim_taken_over", voided=holder)
        return None

    async def claim_target(self, phone_key: str, volunteer_id: str) -> Target:
        """Where ``volunteer_id`` claims the number (its first free slot, guarded), or
        Rejected(duplicate_volunteer) naming whoever holds it."""
        if self.legacy.may_hold(phone_key):
            owner = (await self._phones.load(phone_key)).state.owner
            if owner is not None:
                places.claim_phone(places.Claim(owner=owner), volunteer_id)  # refuses, naming it
        for g in range(MAX_STEPS):
            slot = await self.slot(phone_key, g)
            if slot.holder is not None:
                places.claim_phone(places.Claim(owner=slot.holder), volunteer_id)
            if slot.free:
                return Target(self._phones, slot.slot_id, new=True, guard=self.guard(slot.slot_id))
        raise Rejected("concurrency_conflict", "this phone number kept changing hands; send again")

    async def release_target(self, phone_key: str, volunteer_id: str) -> Target | None:
        """The claim through which ``volunteer_id`` holds the number (None: none, or their own
        registration's slot, which their own change or erasure releases)."""
        if self.legacy.may_hold(phone_key) and (
            (await self._phones.load(phone_key)).state.owner == volunteer_id
        ):
            return Target(self._phones, phone_key)
        for g in range(MAX_STEPS):
            slot = await self.slot(phone_key, g)
            if slot.holder == volunteer_id:
                return None if slot.slot_id == volunteer_id else Target(self._phones, slot.slot_id)
            if slot.free:
                return None
        return None

    async def claim(self, phone_key: str, volunteer_id: str, ctx: CommandContext) -> None:
        """A legacy claim, as registrations before issue 14 wrote it first (tests build old logs
        with it; the registry never calls it)."""
        await self._writer.write(
            ctx, Target(self._phones, phone_key), lambda s: places.claim_phone(s, volunteer_id)
        )
