"""The volunteers' data keys: one AES-256 key per volunteer, in the hub's NATS KV bucket
(``VHUB_KEYS_<HUB>``, history 1), wrapped by the hub's master key.

Why a KV bucket of the owning hub, not a PostgreSQL table: the registry runs at the hub with NATS
and nothing else (PostgreSQL is reporting's, and not guaranteed at a hub), it must keep working
while the hub is cut off, and a bucket with history 1 really forgets: a purge removes the key's
only message and leaves a marker naming no one (docs/architecture.md, "Personal data").

A key is durable before any event sealed with it is appended. Since issue 14 keys are made ahead
(:meth:`KeyStore.make`, by each replica's :class:`services.registry.keypool.KeyPool`) and a
registration takes a ready one: its events name the key (``sealed.key_id``), the volunteer's
state keeps it, and erasure deletes it. They are made in bundles (services/registry/keybundles.py):
up to ``bundle_size`` keys in one bucket message, because under ``sync_interval: always`` the
server fsyncs every message it stores, and a message per key doubled a registration's stored
messages. Erasing a bundle's key rewrites the bundle without its slot (compare-and-set on the
revision read, again on a conflict with another replica's erasure); with history 1 the server
removes the message that held it, as a purge would; a bundle with no slot left is purged. Keys of
the older forms, a single ``k-<random>`` message or one named by the volunteer id
(:meth:`KeyStore.create`, still what the plaintext migration uses), are read and purged as they
are. Every write of a new key or bundle is ``update(last=0)``: an id is never given a key twice
and a written bundle never gains a slot, so an erased key is never created again. An erased
volunteer stays erased because the registry refuses to answer their registration from the log
(``volunteer_erased``, decided from their ``VolunteerErased``), and their key id is never reused.
Keys are read through a bounded cache of unwrapped keys (bundles are not cached: an erasure is
seen at the next read), and every replica drops an erased key from its cache when the erasure
reaches its duplicate-index feed (services/registry/identities.py).
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections import OrderedDict
from dataclasses import dataclass
from hashlib import sha256

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from services.registry import keybundles
from shared.decider import Rejected
from shared.settings import Settings

BUNDLE_SIZE = 64  # data keys per bucket message (services/registry/keybundles.py)
ERASE_ATTEMPTS = 20


class MasterKey:
    """The key-encryption key: wraps and unwraps data keys (AES-256-GCM, the key id as associated
    data, so a wrapped key cannot be moved to another volunteer)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        # names the master key in each wrapped value (rotation: which key wrapped this one)
        self.key_id = sha256(b"vhub-kek-id" + key).hexdigest()[:12]

    def wrap(self, key_id: str, data_key: bytes) -> bytes:
        """A single key's value (the older forms)."""
        return orjson.dumps({"v": 1, "kek": self.key_id, **self.wrap_slot(key_id, data_key)})

    def wrap_slot(self, key_id: str, data_key: bytes) -> dict[str, str]:
        nonce = os.urandom(12)
        wrapped = self._aead.encrypt(nonce, data_key, key_id.encode())
        return {"nonce": _b64(nonce), "wrapped": _b64(wrapped)}

    def unwrap(self, key_id: str, value: bytes) -> bytes:
        doc = orjson.loads(value)
        return self.unwrap_slot(key_id, doc, doc.get("kek"))

    def unwrap_slot(self, key_id: str, slot: dict[str, str], kek: object) -> bytes:
        if kek != self.key_id:
            raise ValueError(f"data key {key_id} is wrapped by master key {kek}")
        return self._aead.decrypt(
            base64.b64decode(slot["nonce"]), base64.b64decode(slot["wrapped"]), key_id.encode()
        )


@dataclass(frozen=True)
class ReadyKey:
    """A data key already durable in the bucket under ``key_id``."""

    key_id: str
    key: bytes


class KeyStore:
    """Data keys of one hub's volunteers; ``cache_size`` unwrapped keys kept in memory."""

    def __init__(
        self,
        js: JetStreamContext,
        bucket: str,
        master: MasterKey,
        *,
        cache_size: int = 20_000,
        bundle_size: int = BUNDLE_SIZE,
    ) -> None:
        self._js = js
        self.bundle_size = max(1, bundle_size)
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
        """``n`` new keys in bundles of up to ``bundle_size`` (one message each), written at once
        (their writes share fsyncs); each is durable when this returns."""
        kv = await self._bucket()
        sizes = [min(self.bundle_size, n - i) for i in range(0, n, self.bundle_size)]
        bundles = [self._new_bundle(size) for size in sizes]
        await asyncio.gather(*(kv.update(bundle_id, value, last=0) for bundle_id, value, _ in bundles))
        return [ready for _, _, keys in bundles for ready in keys]

    def _new_bundle(self, size: int) -> tuple[str, bytes, list[ReadyKey]]:
        bundle_id = keybundles.new_bundle_id()
        keys = [ReadyKey(f"{bundle_id}.{slot}", AESGCM.generate_key(bit_length=256)) for slot in range(size)]
        slots = {r.key_id.rsplit(".", 1)[1]: self._master.wrap_slot(r.key_id, r.key) for r in keys}
        return bundle_id, keybundles.encode(self._master.key_id, slots), keys

    def remember(self, ready: ReadyKey) -> None:
        """Hold a key this process is about to seal with (sealing is synchronous: sealing.py)."""
        self._remember(ready.key_id, ready.key)

    async def get(self, key_id: str) -> bytes | None:
        """The data key, or None once it is deleted (or never existed)."""
        cached = self._cache.get(key_id)
        if cached is not None:
            self._cache.move_to_end(key_id)
            return cached
        kv_key, slot = keybundles.locate(key_id)
        entry = await self._entry(kv_key)
        if entry is None or entry.value is None:
            return None
        if slot is None:
            data_key = self._master.unwrap(key_id, entry.value)
        else:
            doc = keybundles.decode(entry.value)
            if slot not in doc["slots"]:
                return None  # erased from its bundle
            data_key = self._master.unwrap_slot(key_id, doc["slots"][slot], doc.get("kek"))
        self._remember(key_id, data_key)
        return data_key

    async def _entry(self, kv_key: str) -> KeyValue.Entry | None:
        kv = await self._bucket()
        try:
            return await kv.get(kv_key)
        except (KeyDeletedError, KeyNotFoundError):
            return None

    def cached(self, key_id: str) -> bytes | None:
        """The data key if this process holds it (sealing is synchronous: see sealing.py)."""
        return self._cache.get(key_id)

    async def delete(self, key_id: str) -> None:
        """Erase the key. A single key (the older forms) is purged: its message is removed, a
        marker naming only ``key_id`` stays. A bundle's key: the bundle is rewritten without its
        slot, compare-and-set on the revision read (another replica erasing another slot of it
        meanwhile: read again), and purged once no slot is left; history 1, so the server
        removes the message that held the key."""
        self.forget(key_id)
        kv = await self._bucket()
        kv_key, slot = keybundles.locate(key_id)
        if slot is None:
            await kv.purge(kv_key)
            return
        for _ in range(ERASE_ATTEMPTS):
            entry = await self._entry(kv_key)
            if entry is None or entry.value is None:
                return
            doc = keybundles.decode(entry.value)
            if doc["slots"].pop(slot, None) is None:
                return  # already erased
            if not doc["slots"]:  # only erasures rewrite a bundle: none can put a slot back
                await kv.purge(kv_key)
                return
            try:
                await kv.update(kv_key, keybundles.encode(doc["kek"], doc["slots"]), last=entry.revision)
                return
            except KeyWrongLastSequenceError:
                continue  # another slot erased meanwhile
        raise RuntimeError(f"key bundle {kv_key} kept changing; erase again")

    def forget(self, key_id: str) -> None:
        self._cache.pop(key_id, None)

    def _remember(self, key_id: str, data_key: bytes) -> None:
        self._cache[key_id] = data_key
        self._cache.move_to_end(key_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
