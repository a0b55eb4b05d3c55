"""Personal fields sealed on write and opened on read: the registry's event codec
(:class:`shared.aggregates.Codec`), the only place in vhub that encrypts or decrypts them.

On write, every field of :data:`PERSONAL_FIELDS` an event sets is moved into a :class:`Sealed`
(AES-256-GCM under the volunteer's data key; the event type and volunteer id as associated data,
so a sealed blob cannot be replayed onto another volunteer or event), and the keyed pseudonyms are
added beside it. Which key: the one the command's use case handed over (:meth:`PersonalCodec.using`:
a registration's fresh key from the pool, services/registry/keypool.py; an update's, the
volunteer's own), else the old form, the key named by the volunteer id (the migration). On read, a
sealed event is opened when the key it names still exists, and keeps its ``sealed`` (so the fold
knows the volunteer's key id); once the key is deleted (erasure) the event folds without its
personal fields. Plaintext events of older schema
versions are read as they are (an erased volunteer's plaintext is dropped by the fold: the
``VolunteerErased`` that follows clears it; ``vhub pii migrate`` rewrites such a log sealed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.registry.domain import values
from services.registry.keypool import KeyPool
from services.registry.keystore import KeyStore, ReadyKey
from shared.envelope import Envelope
from shared.events import Event
from shared.events.registry import PERSONAL_FIELDS, Sealed, VolunteerRegistered, VolunteerUpdated
from shared.upcast import decode

log = structlog.get_logger(__name__)
Pseudonym = Callable[..., str]
SEALED_TYPES = (VolunteerRegistered, VolunteerUpdated)


@dataclass
class SealingKey:
    """The key a command seals one volunteer's events with; ``used`` once an event was sealed."""

    volunteer_id: str
    key_id: str
    key: bytes
    used: bool = False


# per command: each command runs in its own task, so one command's key never seals another's
# events (sealing runs deep inside the synchronous write path, shared/aggregates.py)
_SEALING: ContextVar[SealingKey | None] = ContextVar("registry_sealing_key", default=None)


def keyed(key: bytes) -> Pseudonym:
    """A keyed, one-way pseudonym of personal values (HMAC-SHA256 under ``VHUB_PII_KEY``, 128 bits)."""

    def pseudonym(*parts: str) -> str:
        return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:32]

    return pseudonym


def phone_pseudonym(pseudonym: Pseudonym, phone: str) -> str:
    """The phone's keyed pseudonym: also the subject token of its claim (services/registry/phones.py)."""
    return pseudonym("phone", phone)


def identity_pseudonym(pseudonym: Pseudonym, full_name: str, birth_date: str) -> str:
    """Normalised name + birth date, keyed; the same at every hub (central compares them)."""
    return pseudonym("identity", values.identity_name(full_name), birth_date)


def seal_fields(
    data_key: bytes,
    event_type: str,
    volunteer_id: str,
    personal: dict[str, Any],
    *,
    key_id: str | None = None,
) -> Sealed:
    """``key_id``: the name of ``data_key`` (default the volunteer id: the form before issue 14)."""
    nonce = os.urandom(12)
    aad = f"{event_type}|{volunteer_id}".encode()
    plain = orjson.dumps(personal, option=orjson.OPT_SORT_KEYS)
    ciphertext = AESGCM(data_key).encrypt(nonce, plain, aad)
    return Sealed(key_id=key_id or volunteer_id, nonce=_b64(nonce), ciphertext=_b64(ciphertext))


def open_fields(data_key: bytes, event_type: str, volunteer_id: str, sealed: Sealed) -> dict[str, Any]:
    aad = f"{event_type}|{volunteer_id}".encode()
    raw = AESGCM(data_key).decrypt(base64.b64decode(sealed.nonce), base64.b64decode(sealed.ciphertext), aad)
    opened: dict[str, Any] = orjson.loads(raw)
    return opened


class PersonalCodec:
    """Seals what the registry writes, opens what it reads (keys from its :class:`KeyStore`)."""

    def __init__(
        self, keys: KeyStore, pseudonym: Pseudonym, *, seal: bool = True, pool: KeyPool | None = None
    ) -> None:
        self.keys = keys
        # (not ``pool or``: an empty pool is falsy) size 0: each key made when asked for
        self.pool = pool if pool is not None else KeyPool(keys, size=0)
        self._pseudonym = pseudonym
        self.seal = seal  # off: plaintext, as before sealing (a benchmark's baseline only)

    @contextmanager
    def using(self, volunteer_id: str, key_id: str, key: bytes) -> Iterator[SealingKey]:
        """Within: this command seals ``volunteer_id``'s events with ``key`` (named ``key_id``)."""
        sealing = SealingKey(volunteer_id, key_id, key)
        token = _SEALING.set(sealing)
        try:
            yield sealing
        finally:
            _SEALING.reset(token)

    @asynccontextmanager
    async def fresh_key(self, volunteer_id: str) -> AsyncIterator[None]:
        """Within: a registration of ``volunteer_id`` seals with a fresh key from the pool, already
        durable; given back if it sealed nothing (a resend answered from the log, a refusal)."""
        if not self.seal:
            yield
            return
        ready: ReadyKey = await self.pool.take()
        with self.using(volunteer_id, ready.key_id, ready.key) as sealing:
            try:
                yield
            finally:
                if not sealing.used:
                    self.pool.give_back(ready)

    def data(self, aggregate_id: str, ev: Event) -> dict[str, Any]:
        """The payload as logged, sealed under the key the use case handed over (``using``,
        ``fresh_key``), else under the key named by the volunteer id, which must be in the cache
        (the old form; the migration creates it first): sealing runs inside the synchronous
        write path, so no key is fetched here."""
        data = ev.model_dump(mode="json")
        if not isinstance(ev, SEALED_TYPES):
            return data
        personal = {f: data[f] for f in PERSONAL_FIELDS if data.get(f) is not None}
        if isinstance(ev, VolunteerRegistered) and ev.full_name and ev.birth_date and ev.phone:
            data["phone_pseudonym"] = phone_pseudonym(self._pseudonym, ev.phone)
            data["identity_pseudonym"] = identity_pseudonym(
                self._pseudonym, ev.full_name, ev.birth_date.isoformat()
            )
        elif isinstance(ev, VolunteerUpdated) and ev.phone:
            data["phone_pseudonym"] = phone_pseudonym(self._pseudonym, ev.phone)
        if not personal or not self.seal:
            return data
        sealing = _SEALING.get()
        key: bytes | None
        if sealing is not None and sealing.volunteer_id == ev.volunteer_id:
            sealing.used = True
            key_id, key = sealing.key_id, sealing.key
        else:  # the form before issue 14: the key named by the volunteer id (the migration)
            key_id, key = ev.volunteer_id, self.keys.cached(ev.volunteer_id)
        if key is None:
            raise RuntimeError(f"no data key loaded for volunteer {ev.volunteer_id}")
        sealed = seal_fields(key, ev.event_type, ev.volunteer_id, personal, key_id=key_id)
        return {**data, **dict.fromkeys(personal), "sealed": sealed.model_dump()}

    def recorded(self, ev: Event, data: dict[str, Any]) -> Event:
        """Our own event as a load opens it: its fields, and the ``sealed`` it was logged with."""
        if not isinstance(ev, SEALED_TYPES):
            return ev
        added = {f: data[f] for f in ("phone_pseudonym", "identity_pseudonym") if data.get(f) is not None}
        if data.get("sealed") is not None:
            added["sealed"] = Sealed.model_validate(data["sealed"])
        return ev.model_copy(update=added) if added else ev

    async def open(self, envelope: Envelope) -> Event:
        """The event with its personal fields, when they are sealed and the key it names exists
        (whatever its id's form); ``sealed`` is kept, so the fold learns the key id."""
        ev = decode(envelope)
        if not isinstance(ev, SEALED_TYPES) or ev.sealed is None:
            return ev
        key = await self.keys.get(ev.sealed.key_id)
        if key is None:  # erased: the event folds without personal fields
            return ev
        try:
            opened = open_fields(key, ev.event_type, ev.volunteer_id, ev.sealed)
        except InvalidTag:
            log.warning("personal_fields_unreadable", event_id=envelope.event_id)
            return ev
        return type(ev).model_validate({**ev.model_dump(), **opened})


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
