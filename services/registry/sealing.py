"""Personal fields sealed on write and opened on read: the registry's event codec
(:class:`shared.aggregates.Codec`), the only place in vhub that encrypts or decrypts them.

On write, every field of :data:`PERSONAL_FIELDS` an event sets is moved into a :class:`Sealed`
(AES-256-GCM under the volunteer's data key; the event type and volunteer id as associated data,
so a sealed blob cannot be replayed onto another volunteer or event), and the keyed pseudonyms are
added beside it. On read, a sealed event is opened when its key still exists; once the key is
deleted (erasure) the event folds without its personal fields. Plaintext events of older schema
versions are read as they are (an erased volunteer's plaintext is dropped by the fold: the
``VolunteerErased`` that follows clears it; ``vhub pii migrate`` rewrites such a log sealed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from typing import Any

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.registry.domain import values
from services.registry.keystore import KeyStore
from shared.envelope import Envelope
from shared.events import Event
from shared.events.registry import PERSONAL_FIELDS, Sealed, VolunteerRegistered, VolunteerUpdated
from shared.upcast import decode

log = structlog.get_logger(__name__)
Pseudonym = Callable[..., str]
SEALED_TYPES = (VolunteerRegistered, VolunteerUpdated)


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


def seal_fields(data_key: bytes, event_type: str, volunteer_id: str, personal: dict[str, Any]) -> Sealed:
    nonce = os.urandom(12)
    aad = f"{event_type}|{volunteer_id}".encode()
    ciphertext = AESGCM(data_key).encrypt(nonce, json.dumps(personal, sort_keys=True).encode(), aad)
    return Sealed(key_id=volunteer_id, nonce=_b64(nonce), ciphertext=_b64(ciphertext))


def open_fields(data_key: bytes, event_type: str, volunteer_id: str, sealed: Sealed) -> dict[str, Any]:
    aad = f"{event_type}|{volunteer_id}".encode()
    raw = AESGCM(data_key).decrypt(base64.b64decode(sealed.nonce), base64.b64decode(sealed.ciphertext), aad)
    opened: dict[str, Any] = json.loads(raw)
    return opened


class PersonalCodec:
    """Seals what the registry writes, opens what it reads (keys from its :class:`KeyStore`)."""

    def __init__(self, keys: KeyStore, pseudonym: Pseudonym, *, seal: bool = True) -> None:
        self.keys = keys
        self._pseudonym = pseudonym
        self.seal = seal  # off: plaintext, as before sealing (a benchmark's baseline only)

    def data(self, aggregate_id: str, ev: Event) -> dict[str, Any]:
        """The payload as logged. The volunteer's key must be in the cache (the use case fetched
        or created it before deciding: sealing runs inside the synchronous write path)."""
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
        key = self.keys.cached(ev.volunteer_id)
        if key is None:
            raise RuntimeError(f"no data key loaded for volunteer {ev.volunteer_id}")
        sealed = seal_fields(key, ev.event_type, ev.volunteer_id, personal)
        return {**data, **dict.fromkeys(personal), "sealed": sealed.model_dump()}

    async def open(self, envelope: Envelope) -> Event:
        """The event with its personal fields, when they are sealed and the key exists."""
        ev = decode(envelope)
        if not isinstance(ev, SEALED_TYPES) or ev.sealed is None:
            return ev
        key = await self.keys.get(ev.sealed.key_id)
        if key is None:  # erased: the event folds without personal fields
            return ev.model_copy(update={"sealed": None})
        try:
            opened = open_fields(key, ev.event_type, ev.volunteer_id, ev.sealed)
        except InvalidTag:
            log.warning("personal_fields_unreadable", event_id=envelope.event_id)
            return ev.model_copy(update={"sealed": None})
        return type(ev).model_validate({**ev.model_dump(), **opened, "sealed": None})


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
