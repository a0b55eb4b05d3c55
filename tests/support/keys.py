"""What the key bucket holds for a data key id, read raw (no key store, no cache): the wrapped key
of a single key's message or of a bundle's slot (services/registry/keybundles.py)."""

from __future__ import annotations

import orjson
from nats.js.errors import KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue

from services.registry.keybundles import locate


async def stored_key(kv: KeyValue, key_id: str) -> bytes | None:
    """The wrapped key ``key_id`` as the bucket holds it, or None when it is gone."""
    kv_key, slot = locate(key_id)
    try:
        entry = await kv.get(kv_key)
    except (KeyDeletedError, KeyNotFoundError):
        return None
    if not entry.value or slot is None:
        return entry.value or None
    wrapped = orjson.loads(entry.value)["slots"].get(slot)
    return orjson.dumps(wrapped) if wrapped else None
