"""The volunteers' data keys: one AES-256 key per volunteer, in the hub's NATS KV bucket
(``VHUB_KEYS_<HUB>``, history 1), wrapped by the hub's master key.

Why a KV bucket of the owning hub, not a PostgreSQL table: the registry runs at the hub with NATS
and nothing else (PostgreSQL is reporting's, and not guaranteed at a hub), it must keep working
while the hub is cut off, and a bucket with history 1 really forgets: a purge removes the key's
only message and leaves a marker naming no one (docs/architecture.md, "Personal data").

A key is durable before any event sealed with it is appended. Since issue 14 keys are made ahead
under ids of their own (``k-<random>``: :meth:`KeyStore.make`, in batches, by each replica's
:class:`services.registry.keypool.KeyPool`) and a registration takes a ready one: its events name
the key (``sealed.key_id``), the volunteer's state keeps it, and erasure purges it. Keys written
before issue 14 are named by their volunteer id (:meth:`KeyStore.create`, still what the plaintext
migration uses) and read as they are. Every write is ``update(last=0)``: an id is never given a
key twice, so a purged key is never created again. An erased volunteer stays erased because the
registry refuses to answer their registration from the log (``volunteer_erased``, decided from
their ``VolunteerErased``), and their key id is never reused. Keys are read through a bounded
cache, and every replica drops an erased key from its cache when the erasure reaches its
duplicate-index feed (services/registry/identities.py).
"""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from hashlib import sha256

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from shared.decider import Rejected
from shared.settings import Settings


class MasterKey:
    """The key-encryption key: wraps and unwraps data keys (AES-256-GCM, the key id as associated
    data, so a wrapped key cannot be moved to another volunteer)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        # names the master key in each wrapped value (rotation: which key wrapped this one)
        self.key_id = sha256(b"vhub-kek-id" + key).hexdigest()[:12]

    def wrap(self, key_id: str, data_key: bytes) -> bytes:
        nonce = os.urandom(12)
        wrapped = self._aead.encrypt(nonce, data_key, key_id.encode())
        doc = {"v": 1, "kek": self.key_id, "nonce": _b64(nonce), "wrapped": _b64(wrapped)}
        return orjson.dumps(doc)

    def unwrap(self, key_id: str, value: bytes) -> bytes:
        doc = orjson.loads(value)
        if doc.get("kek") != self.key_id:
            raise ValueError(f"data key {key_id} is wrapped by master key {doc.get('kek')}")
        return self._aead.decrypt(
            base64.b64decode(doc["nonce"]), base64.b64decode(doc["wrapped"]), key_id.encode()
        )


@dataclass(frozen=True)
class ReadyKey:
    """A data key already durable in the bucket under ``key_id``."""

    key_id: str
    key: bytes


class KeyStore:
    """Data keys of one hub's volunteers; ``cache_size`` unwrapped keys kept in memory."""

    def __init__(
        self, js: JetStreamContext, bucket: str, master: MasterKey, *, cache_size: int = 20_000
    ) -> None:
        self._js = js
        self.bucket = bucket
        self._master = master
        self._kv: KeyValue | None = None
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_size = max(cache_size, 1)

    @classmethod
    def of(cls, js: JetStreamContext, settings: Settings) -> KeyStore:
        """The hub's key store as the settings name it (bucket, master key, cache size)."""
        return cls(
            js,
            settings.keys_bucket,
            MasterKey(settings.master_key()),
            cache_size=settings.snapshot_cache_size,
        )

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self._js.key_value(self.bucket)
        return self._kv

    async def create(self, key_id: str) -> bytes:
        """A new data key for ``key_id`` (the old form: the volunteer id; ``vhub pii migrate``),
        or the one it already has; Rejected(volunteer_erased) when it was purged."""
        kv = await self._bucket()
        data_key = AESGCM.generate_key(bit_length=256)
        try:
            await kv.update(key_id, self._master.wrap(key_id, data_key), last=0)
        except KeyWrongLastSequenceError:
            found = await self.get(key_id)
            if found is None:
                raise Rejected("volunteer_erased", "this volunteer was erased; register anew") from None
            return found
        self._remember(key_id, data_key)
        return data_key

    async def make(self, n: int) -> list[ReadyKey]:
        """``n`` new keys under fresh random ids, written at once (their writes share fsyncs);
        each is durable when this returns."""
        kv = await self._bucket()
        made = [ReadyKey(f"k-{uuid.uuid4().hex}", AESGCM.generate_key(bit_length=256)) for _ in range(n)]
        await asyncio.gather(*(kv.update(r.key_id, self._master.wrap(r.key_id, r.key), last=0) for r in made))
        return made

    def remember(self, ready: ReadyKey) -> None:
        """Hold a key this process is about to seal with (sealing is synchronous: sealing.py)."""
        self._remember(ready.key_id, ready.key)

    async def get(self, key_id: str) -> bytes | None:
        """The data key, or None once it is deleted (or never existed)."""
        cached = self._cache.get(key_id)
        if cached is not None:
            self._cache.move_to_end(key_id)
            return cached
        kv = await self._bucket()
        try:
            entry = await kv.get(key_id)
        except (KeyDeletedError, KeyNotFoundError):
            return None
        if entry.value is None:
            return None
        data_key = self._master.unwrap(key_id, entry.value)
        self._remember(key_id, data_key)
        return data_key

    def cached(self, key_id: str) -> bytes | None:
        """The data key if this process holds it (sealing is synchronous: see sealing.py)."""
        return self._cache.get(key_id)

    async def delete(self, key_id: str) -> None:
        """Purge the key: its message is removed, a marker naming only ``key_id`` stays."""
        self.forget(key_id)
        kv = await self._bucket()
        await kv.purge(key_id)

    def forget(self, key_id: str) -> None:
        self._cache.pop(key_id, None)

    def _remember(self, key_id: str, data_key: bytes) -> None:
        self._cache[key_id] = data_key
        self._cache.move_to_end(key_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
