"""Sealing personal fields (services/registry/sealing.py): AES-256-GCM bound to its event and
volunteer, keyed pseudonyms that depend on the pseudonym key only."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.registry.keystore import MasterKey
from services.registry.sealing import identity_pseudonym, keyed, open_fields, phone_pseudonym, seal_fields

PERSONAL = {"full_name": "Lê Thị Hoa", "phone": "+84987654321", "birth_date": "2002-03-04"}
TYPE = "registry.volunteer_registered"


def test_sealed_fields_open_only_for_their_event_and_volunteer_with_their_key() -> None:
    key = AESGCM.generate_key(bit_length=256)
    sealed = seal_fields(key, TYPE, "v1", PERSONAL)
    assert open_fields(key, TYPE, "v1", sealed) == PERSONAL
    assert "Hoa" not in sealed.model_dump_json()
    for k, event_type, vid in ((key, TYPE, "v2"), (key, "registry.volunteer_updated", "v1")):
        with pytest.raises(InvalidTag):
            open_fields(k, event_type, vid, sealed)
    with pytest.raises(InvalidTag):
        open_fields(AESGCM.generate_key(bit_length=256), TYPE, "v1", sealed)


def test_a_wrapped_data_key_unwraps_for_its_id_under_its_master_key_only() -> None:
    master, other = MasterKey(b"\x01" * 32), MasterKey(b"\x02" * 32)
    data_key = AESGCM.generate_key(bit_length=256)
    wrapped = master.wrap("v1", data_key)
    assert master.unwrap("v1", wrapped) == data_key
    with pytest.raises(InvalidTag):
        master.unwrap("v2", wrapped)
    with pytest.raises(ValueError, match="wrapped by master key"):
        other.unwrap("v1", wrapped)


def test_pseudonyms_are_stable_per_key_and_fold_names_as_the_duplicate_check_does() -> None:
    a, b = keyed(b"national secret"), keyed(b"another secret")
    assert phone_pseudonym(a, "+84987654321") == phone_pseudonym(a, "+84987654321")
    assert phone_pseudonym(a, "+84987654321") != phone_pseudonym(b, "+84987654321")
    assert identity_pseudonym(a, "Lê Thị Hoa", "2002-03-04") == identity_pseudonym(
        a, "LE  thi hoa", "2002-03-04"
    )
    assert identity_pseudonym(a, "Lê Thị Hoa", "2002-03-04") != identity_pseudonym(
        a, "Lê Thị Hoa", "2002-03-05"
    )
