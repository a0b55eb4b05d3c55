"""Key bundles (issue 14): ``K`` data keys in one message of the key bucket, so the server stores
(and, under ``sync_interval: always``, fsyncs) one message per ``K`` keys made ahead, not one per
key.

A bundle's KV key is ``k-<uuid4 hex>``; its keys are named ``k-<uuid4 hex>.<slot>`` (a valid KV
key and event field, but no message of its own). Its value is ``{"v": 2, "kek", "slots": {slot:
{nonce, wrapped}}}``: each slot wrapped by the master key with its own key id (bundle and slot) as
associated data, so a wrapped key cannot be moved to another slot or bundle. Erasing a key
rewrites its bundle without that slot (a compare-and-set on the revision read); the bucket keeps
history 1, so the server removes the message that still held it. A bundle left with no live slot
is purged. Ids of the older forms (a volunteer id; a single ``k-<uuid4 hex>`` key) do not match
:data:`SLOT_ID` and are read and erased as single keys.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson

SLOT_ID = re.compile(r"^(k-[0-9a-f]{32})\.([0-9]{1,4})$")
VERSION = 2


def locate(key_id: str) -> tuple[str, str | None]:
    """The KV key holding ``key_id`` and its slot (None: a single key, the older forms)."""
    m = SLOT_ID.match(key_id)
    return (m.group(1), m.group(2)) if m else (key_id, None)


def new_bundle_id() -> str:
    return f"k-{uuid.uuid4().hex}"


def encode(kek: str, slots: dict[str, dict[str, str]]) -> bytes:
    return orjson.dumps({"v": VERSION, "kek": kek, "slots": slots})


def decode(value: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(value)
    if doc.get("v") != VERSION or not isinstance(doc.get("slots"), dict):
        raise ValueError("not a key bundle")
    return doc
