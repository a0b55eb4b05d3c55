"""National duplicates at central (issue 11 part 3): one person recorded at two hubs.

Within a hub a phone is hard-unique: its slots (services/registry/phones.py). Across hubs it
cannot be while a hub can be cut off: each hub accepts what it cannot see is taken elsewhere.
Central sees it once both logs have converged in ``VHUB_CENTRAL``: the same phone key under two
hubs. The key is the registry's keyed pseudonym of the phone (HMAC under ``VHUB_PII_KEY``, the
same at every hub): a registration and a phone change carry it (``phone_pseudonym``), and so does
the subject of a claim written before issue 14; central compares without any personal value, and
neither the key nor the phone is ever served: a pair is named by a uuid5 of the key.
Registrations that carry an ``identity_pseudonym`` (name and birth date; issue 12) pair
the same way.

Which registration counts: the one recorded first (``recorded_at``, then the hub code). The other
hub accepted the second only because it could not see the first. A pair is resolved once either
volunteer is withdrawn (an operator withdraws one at its hub: ``vhub duplicates resolve``).

The index is in this process, replayed from the start at each boot (as the registry's possible-
duplicate index is): claims and registrations are a small part of the log, and no table, rebuild
or checkpoint has to be kept in step with the read model.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass
from datetime import datetime

from nats.js import JetStreamContext

from services.reporting.decoding import typed_event
from shared.envelope import Envelope, derive_id
from shared.events import Event
from shared.events.registry import (
    PhoneClaimed,
    PhoneReleased,
    VolunteerErased,
    VolunteerRegistered,
    VolunteerUpdated,
    VolunteerWithdrawn,
)
from shared.ownership import id_hub
from shared.projection import Batch, ProjectionRunner
from shared.provisioned import NATIONAL_FILTERS, REPORTING_NATIONAL
from shared.upcast import PoisonEventError, read_envelope, read_event

DURABLE = REPORTING_NATIONAL  # provisioned by the operator (shared/provisioned.py)
Fact = tuple[Envelope, Event]
TYPES = [
    e.event_type
    for e in (
        PhoneClaimed,
        PhoneReleased,
        VolunteerRegistered,
        VolunteerUpdated,
        VolunteerErased,
        VolunteerWithdrawn,
    )
]


@dataclass(frozen=True, slots=True)
class Holder:
    hub: str
    volunteer_id: str
    recorded_at: datetime


def holder(env: Envelope, volunteer_id: str) -> Holder:
    """Ids as one shared string each: the index holds one for every registration."""
    return Holder(sys.intern(env.hub), sys.intern(volunteer_id), env.recorded_at)


Held = Holder | dict[str, Holder]  # one holder, or hub → holder when held at several hubs


@dataclass(frozen=True, slots=True)
class Pair:
    pair_id: str
    kind: str  # "phone" | "name_birth_date"
    counted: Holder  # recorded first: the registration national figures count
    duplicate: Holder
    resolved: bool


def decode(seq: int, raw: bytes) -> tuple[Fact | None, str | None]:
    typed = typed_event(raw)  # one typed pass (services/reporting/decoding.py); else the general
    if typed is not None:
        return typed, None
    try:
        env = read_envelope(raw)
        return (env, read_event(env)), None
    except PoisonEventError as err:
        return None, err.reason


class NationalIndex:
    """kind → key → who holds it (at one hub, as almost every key is: the holder itself; at
    several: hub → holder); and which volunteers are withdrawn. Every registration of the hub
    (or of every hub, at central) is here: a dict per key was ~460 bytes of each ~860."""

    def __init__(self) -> None:
        self._held: dict[str, dict[str, Held]] = {"phone": {}, "name_birth_date": {}}
        self._withdrawn: set[str] = set()
        self._phone_of: dict[str, str] = {}  # volunteer id -> the phone key it holds (by pseudonym)
        self.position = 0

    def _hold(self, kind: str, key: str, holder: Holder) -> None:
        keys = self._held[kind]
        held = keys.get(key)
        if held is None or (isinstance(held, Holder) and held.hub == holder.hub):
            keys[key] = holder
        elif isinstance(held, Holder):
            keys[key] = {held.hub: held, holder.hub: holder}
        else:
            held[holder.hub] = holder

    def _release(self, key: str, hub: str, volunteer_id: str) -> None:
        keys = self._held["phone"]
        held = keys.get(key)
        if isinstance(held, Holder):
            if held.hub == hub and held.volunteer_id == volunteer_id:
                del keys[key]
        elif held is not None and (h := held.get(hub)) is not None and h.volunteer_id == volunteer_id:
            del held[hub]

    def _phone(self, env: Envelope, volunteer_id: str, key: str | None) -> None:
        """A volunteer's phone key from their own events (registrations since issue 14 write no
        claim): the previous one is released."""
        if (old := self._phone_of.pop(volunteer_id, None)) is not None:
            self._release(old, env.hub, volunteer_id)
        if key:
            self._phone_of[sys.intern(volunteer_id)] = key
            self._hold("phone", key, holder(env, volunteer_id))

    async def apply(self, batch: Batch[Fact]) -> None:
        for env, ev in batch.items:
            # a claim's subject names the phone only in a claim written before issue 14; a phone
            # slot's claim (an id with a hub prefix) comes with the volunteer's own event
            legacy = id_hub(str(env.aggregate_id)) is None
            if isinstance(ev, PhoneClaimed) and legacy:
                self._hold("phone", env.aggregate_id, holder(env, ev.volunteer_id))
            elif isinstance(ev, PhoneReleased) and legacy:
                self._release(env.aggregate_id, env.hub, ev.volunteer_id)
            elif isinstance(ev, VolunteerWithdrawn):
                self._withdrawn.add(ev.volunteer_id)
            elif isinstance(ev, VolunteerErased):
                self._phone(env, ev.volunteer_id, None)
            elif isinstance(ev, VolunteerUpdated) and ev.phone_pseudonym:
                self._phone(env, ev.volunteer_id, ev.phone_pseudonym)
            elif isinstance(ev, VolunteerRegistered):
                if ev.phone_pseudonym:
                    self._phone(env, ev.volunteer_id, ev.phone_pseudonym)
                key = getattr(ev, "identity_pseudonym", None)  # issue 12's registrations carry it
                if isinstance(key, str) and key:
                    self._hold("name_birth_date", key, holder(env, ev.volunteer_id))
        self.position = batch.last_seq

    def pairs(self) -> list[Pair]:
        """Every key held at two hubs or more: the first holder counts, each later one pairs with
        it. Two registrations found by phone and by name + birth date are one pair (kind: the phone,
        the stronger evidence), never two."""
        out: dict[tuple[str, str], Pair] = {}
        for kind, keys in self._held.items():  # "phone" first
            for key, by_hub in keys.items():
                if isinstance(by_hub, Holder) or len(by_hub) < 2:
                    continue
                first, *later = sorted(by_hub.values(), key=lambda h: (h.recorded_at, h.hub))
                for dup in later:
                    which = (first.volunteer_id, dup.volunteer_id)
                    if which in out:
                        continue
                    resolved = bool(set(which) & self._withdrawn)
                    pair_id = derive_id("national_duplicate", kind, key, dup.hub)
                    out[which] = Pair(pair_id, kind, first, dup, resolved)
        return sorted(out.values(), key=lambda p: (p.duplicate.recorded_at, p.pair_id))


class NationalFeed:
    """The index's own consumer on the read stream (``VHUB_CENTRAL`` at central), until stopped."""

    def __init__(self, index: NationalIndex, js: JetStreamContext, *, stream: str) -> None:
        self.index = index
        self.runner = ProjectionRunner(
            js,
            index,
            decode,
            stream=stream,
            durable=DURABLE,
            filter_subjects=NATIONAL_FILTERS,
            event_types=TYPES,
            inactive_threshold=3600.0,
            pace=0.05,  # in batches: registrations come at up to 1,000/s, and nothing here is urgent
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Replayed from the start: the operator's consumer is reset (ensure(0)); one of our own
        making (no accounts file) is deleted first, since an old one is ahead."""
        with contextlib.suppress(Exception):
            await self.runner.consumer.restart_after(0)
        await self.runner.start()
        self._task = asyncio.create_task(self.runner.run(self._stop))

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        with contextlib.suppress(Exception):
            await self.runner.consumer.delete()
