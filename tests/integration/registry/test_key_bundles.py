"""Data keys in bundles (services/registry/keybundles.py) on a real nats-server: keys made ahead
share one bucket message per bundle, erasing one rewrites its bundle without it (the others still
open), replicas erasing slots of one bundle at once all succeed, the last erasure purges the
bundle, and a wrapped key moved to another slot does not open."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nats.aio.client import Client
from nats.js.errors import KeyDeletedError, KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

from services.registry.keybundles import locate
from services.registry.keypool import KeyPool
from services.registry.keystore import KeyStore, MasterKey
from shared.settings import Settings
from tests.support.keys import stored_key


async def names(kv: KeyValue) -> set[str]:
    try:
        return set(await kv.keys())
    except NoKeysError:
        return set()


def store(nc: Client, settings: Settings, bundle_size: int = 8) -> KeyStore:
    master = MasterKey(settings.master_key())
    return KeyStore(nc.jetstream(), settings.keys_bucket, master, bundle_size=bundle_size)


async def test_keys_made_ahead_share_one_message_per_bundle(nc: Client, provisioned: Settings) -> None:
    """Given a key store with bundles of 8, when it makes 20 keys, then the bucket gains 3
    messages (8 + 8 + 4), and a store with no cache opens each key from its bundle."""
    kv = await nc.jetstream().key_value(provisioned.keys_bucket)
    before = await names(kv)
    made = await store(nc, provisioned).make(20)
    added = await names(kv) - before
    assert len(made) == 20
    assert len({r.key_id for r in made}) == 20
    assert added == {locate(r.key_id)[0] for r in made}
    assert len(added) == 3
    fresh = store(nc, provisioned)
    assert [await fresh.get(r.key_id) for r in made] == [r.key for r in made]


async def test_erasing_a_key_rewrites_its_bundle_and_the_last_one_purges_it(
    nc: Client, provisioned: Settings
) -> None:
    """Given a bundle of 3 keys, when one is erased, then the bundle no longer holds it and no
    store opens it, while the others still open; when the other two are erased, the bundle's
    message is purged."""
    kv = await nc.jetstream().key_value(provisioned.keys_bucket)
    first, second, third = await store(nc, provisioned, bundle_size=3).make(3)
    await store(nc, provisioned).delete(first.key_id)
    assert await stored_key(kv, first.key_id) is None
    assert await store(nc, provisioned).get(first.key_id) is None
    assert await store(nc, provisioned).get(second.key_id) == second.key
    await store(nc, provisioned).delete(second.key_id)
    await store(nc, provisioned).delete(third.key_id)
    with pytest.raises((KeyDeletedError, KeyNotFoundError)):
        await kv.get(locate(first.key_id)[0])
    await store(nc, provisioned).delete(first.key_id)  # erased again (a resend): nothing to do


async def test_replicas_erasing_keys_of_one_bundle_at_once_all_succeed(
    nc: Client, provisioned: Settings
) -> None:
    """Given a bundle of 8 keys, when 6 replicas each erase one of them at the same time, then
    each of the 6 is gone (a replica whose rewrite lost the race read again) and the 2 others open."""
    kv = await nc.jetstream().key_value(provisioned.keys_bucket)
    made = await store(nc, provisioned).make(8)
    await asyncio.gather(*(store(nc, provisioned).delete(r.key_id) for r in made[:6]))
    assert [await stored_key(kv, r.key_id) for r in made[:6]] == [None] * 6
    fresh = store(nc, provisioned)
    assert [await fresh.get(r.key_id) for r in made[6:]] == [r.key for r in made[6:]]


async def test_a_wrapped_key_moved_to_another_slot_does_not_open(nc: Client, provisioned: Settings) -> None:
    """Given a bundle whose slot 1 holds slot 0's wrapped key (written by someone with bucket
    access but no master key), when slot 1 is opened, then the master key refuses it."""
    kv = await nc.jetstream().key_value(provisioned.keys_bucket)
    first, second = await store(nc, provisioned, bundle_size=2).make(2)
    kv_key = locate(first.key_id)[0]
    doc = orjson.loads((await kv.get(kv_key)).value or b"")
    doc["slots"]["1"] = doc["slots"]["0"]
    await kv.put(kv_key, orjson.dumps(doc))
    with pytest.raises(InvalidTag):
        await store(nc, provisioned).get(second.key_id)


async def test_a_single_key_made_ahead_before_bundles_still_opens_and_is_purged(
    nc: Client, provisioned: Settings
) -> None:
    """Given a key written as one message of its own under ``k-<uuid4 hex>`` (the form bundles
    replaced), when a store opens it and erases it, then it opens, and its message is purged."""
    kv = await nc.jetstream().key_value(provisioned.keys_bucket)
    key_id, key = f"k-{uuid.uuid4().hex}", AESGCM.generate_key(bit_length=256)
    await kv.update(key_id, MasterKey(provisioned.master_key()).wrap(key_id, key), last=0)
    assert await store(nc, provisioned).get(key_id) == key
    await store(nc, provisioned).delete(key_id)
    with pytest.raises((KeyDeletedError, KeyNotFoundError)):
        await kv.get(key_id)


async def test_registrations_that_find_the_pool_dry_share_one_bundle(
    nc: Client, provisioned: Settings
) -> None:
    """Given a pool whose refill has just started (nothing ready yet), when 100 registrations take
    a key at once, then each gets a key of its own, and the bucket gains a few bundles, not one
    message per key."""
    kv = await nc.jetstream().key_value(provisioned.keys_bucket)
    before = await names(kv)
    pool = KeyPool(store(nc, provisioned, bundle_size=64), size=512)
    pool.start()
    try:
        taken = await asyncio.gather(*(pool.take() for _ in range(100)))
    finally:
        await pool.stop()
    assert len({r.key_id for r in taken}) == 100
    assert len(await names(kv) - before) <= 10
