"""One volunteer per phone number, across every replica: the claim on ``registry.phone.<key>``.

``<key>`` is a keyed pseudonym of the normalised number, so no personal data is in any subject.
The claim is appended before the volunteer it names is recorded (two single appends, each
guarded by its subject's version: docs/architecture.md §2). A writer that crashes between the two
leaves a claim without a volunteer: the same command sent again finishes it (the claim names that
command's volunteer id); a later registration of that phone, once the claim is ``ORPHAN_AFTER``
old, voids the unfinished registration on its own subject (so it can never land late) and takes
the phone over.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from services.registry.domain import places, volunteer
from shared.aggregates import Aggregates, CommandContext
from shared.decider import Rejected
from shared.transaction import Target, Writer

log = structlog.get_logger(__name__)
# A phone claim whose volunteer is still unrecorded after this long was left by a crashed writer
# (a registration takes milliseconds; a client gives up on a reply after seconds)
ORPHAN_AFTER = timedelta(minutes=2)


class PhoneClaims:
    def __init__(
        self, writer: Writer, phones: Aggregates[places.Claim], volunteers: Aggregates[volunteer.Volunteer]
    ) -> None:
        self._writer = writer
        self._phones = phones
        self._volunteers = volunteers

    async def claim(self, phone_key: str, volunteer_id: str, ctx: CommandContext) -> None:
        """The phone for ``volunteer_id``, or Rejected(duplicate_volunteer) naming its holder."""
        write = self._writer.write
        try:
            # most numbers are new: append the claim expecting an empty subject without reading it
            # first; a taken number fails that check, and the retry reads and refuses
            await write(
                ctx, Target(self._phones, phone_key, new=True), lambda s: places.claim_phone(s, volunteer_id)
            )
        except Rejected as refused:
            holder = str(refused.details.get("existing_id", ""))
            if refused.code != "duplicate_volunteer" or not await self._unfinished(phone_key, holder, ctx):
                raise
            # void the holder's registration first (guarded by its version: if it landed after
            # all, this refuses and the phone stays its), then take the claim over
            await write(ctx, Target(self._volunteers, holder), lambda s: volunteer.void(s, holder))
            self._volunteers.forget(holder)
            log.warning("phone_claim_taken_over", voided=holder, volunteer_id=volunteer_id)
            await write(
                ctx,
                Target(self._phones, phone_key),
                lambda s: places.claim_phone(s, volunteer_id, taking_over=holder),
            )

    async def _unfinished(self, phone_key: str, holder: str, ctx: CommandContext) -> bool:
        """Is ``holder``'s claim one whose volunteer was never recorded, and old enough to be
        abandoned (not a registration still in flight)?"""
        if not holder or (await self._volunteers.load(holder)).state.registered:
            return False
        last = await self._writer.store.last(self._phones.subject(phone_key))
        return last is not None and ctx.received_at - last[0].envelope.recorded_at >= ORPHAN_AFTER
