"""Possible duplicates: which volunteers share a normalised name, birth date and province.

An in-process index per registry replica, fed from the log by its own consumer (replayed from the
start, then live) and by the replica's own registrations the moment they are recorded. It only
*flags* (a warning and a PossibleDuplicateFlagged fact), never refuses, so a registration racing
another one on a different replica within the consumer's delay may go unflagged; that is the price
of keeping it off the write path (one append fewer per registration; see docs/architecture.md §2).
Keys are keyed pseudonyms (services/registry/sealing.py): no personal value is held as a key.
Sealed registrations carry their pseudonym, so the index never decrypts; older plaintext ones are
keyed from their fields. An erasure takes the volunteer out of the index, and (``on_erased``)
makes sure their data key is gone here too: the key cache of this replica, and the key itself
should a restored backup of the key bucket have brought it back. The same feed replays the legacy
phone claims of logs written before issue 14 (services/registry/phones.py: :class:`LegacyClaims`),
so a registration reads a legacy claim only for a number that may still hold one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext

from services.registry.phones import LegacyClaims
from shared.events import Event
from shared.events.registry import (
    PhoneClaimed,
    PhoneReleased,
    VolunteerErased,
    VolunteerRegistered,
)
from shared.projection import Batch, ProjectionRunner
from shared.provisioned import identity_filters
from shared.upcast import PoisonEventError, read_envelope, read_event

IdentityPseudonym = Callable[[str, str], str]  # (full_name, birth_date ISO) -> keyed pseudonym
OnErased = Callable[[str, str], Awaitable[None]]  # (volunteer id, the erased key's id)
Fact = tuple[str, Event]  # the aggregate id, the event


def decode(seq: int, raw: bytes) -> tuple[Fact | None, str | None]:
    try:
        env = read_envelope(raw)
        return (str(env.aggregate_id), read_event(env)), None
    except PoisonEventError as err:
        return None, err.reason


class IdentityIndex:
    """identity key (province + pseudonym of name and birth date) → the volunteer ids registered
    with it (in log order)."""

    def __init__(
        self,
        pseudonym: IdentityPseudonym,
        on_erased: OnErased | None = None,
        *,
        legacy: LegacyClaims | None = None,
    ) -> None:
        self._pseudonym = pseudonym
        self._on_erased = on_erased
        self.legacy = legacy or LegacyClaims()
        # key -> its one holder (as almost every key has), or the holders in log order
        self._holders: dict[str, str | tuple[str, ...]] = {}
        self._key_of: dict[str, str] = {}  # volunteer id -> its key (to take an erased one out)
        self.position = 0  # the last stream sequence applied from the log

    def key_of(self, full_name: str, birth_date: str, province_code: str) -> str:
        return self.key(self._pseudonym(full_name, birth_date), province_code)

    @staticmethod
    def key(identity_pseudonym: str, province_code: str) -> str:
        return f"{province_code}:{identity_pseudonym}"

    def holders(self, key: str) -> tuple[str, ...]:
        held = self._holders.get(key, ())
        return (held,) if isinstance(held, str) else held

    def add(self, key: str, volunteer_id: str) -> None:
        held = self.holders(key)
        if volunteer_id not in held:
            self._holders[key] = (*held, volunteer_id) if held else volunteer_id
            self._key_of[volunteer_id] = key

    def remove(self, volunteer_id: str) -> None:
        key = self._key_of.pop(volunteer_id, None)
        if key is None:
            return
        held = tuple(v for v in self.holders(key) if v != volunteer_id)
        if held:
            self._holders[key] = held[0] if len(held) == 1 else held
        else:
            self._holders.pop(key, None)

    def __len__(self) -> int:
        return len(self._holders)

    async def apply(self, batch: Batch[Fact]) -> None:
        """A batch from the log (the runner passes registrations, erasures and claims only)."""
        for aggregate_id, ev in batch.items:
            if isinstance(ev, PhoneClaimed | PhoneReleased):
                self.legacy.apply(aggregate_id, ev)
            elif isinstance(ev, VolunteerRegistered):
                if ev.identity_pseudonym is not None:
                    self.add(self.key(ev.identity_pseudonym, ev.province_code), ev.volunteer_id)
                elif ev.full_name is not None and ev.birth_date is not None:  # plaintext, v2 or older
                    key = self.key_of(ev.full_name, ev.birth_date.isoformat(), ev.province_code)
                    self.add(key, ev.volunteer_id)
            elif isinstance(ev, VolunteerErased):
                self.remove(ev.volunteer_id)
                if self._on_erased is not None:
                    await self._on_erased(ev.volunteer_id, ev.key_id or ev.volunteer_id)
        self.position = batch.last_seq


class IdentityFeed:
    """Runs the index's own consumer (a :class:`ProjectionRunner`) until stopped.

    One consumer per replica (the index lives in this process), which the operator provisions
    (shared/provisioned.py) and each start resets to the beginning; without an accounts file
    the feed makes its own, which the server drops an hour after the process is gone and a
    clean stop deletes at once (an operator's is left in place). A registration that does
    not decode flags nothing and is counted and logged (reporting dead-letters it)."""

    def __init__(
        self, index: IdentityIndex, js: JetStreamContext, *, stream: str, hub: str, durable: str
    ) -> None:
        self.index = index
        self.runner = ProjectionRunner(
            js,
            index,
            decode,
            stream=stream,
            durable=durable,
            filter_subjects=identity_filters(hub),
            event_types=[
                VolunteerRegistered.event_type,
                VolunteerErased.event_type,
                PhoneClaimed.event_type,
                PhoneReleased.event_type,
            ],
            inactive_threshold=3600.0,
            pace=0.02,
        )
        self.consumer = self.runner.consumer
        self.caught_up = self.runner.caught_up
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, catch_up_s: float) -> None:
        await self.runner.start()
        self._task = asyncio.create_task(self.runner.run(self._stop))
        if await self.runner.wait_caught_up(catch_up_s):
            # every legacy claim is known now, and none is written any more: trust the set
            self.index.legacy.complete = True

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        with contextlib.suppress(Exception):
            await self.consumer.delete()
