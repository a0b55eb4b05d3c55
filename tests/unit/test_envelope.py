"""Ids derived from command ids must never change: they are how a resend finds its first answer."""

from __future__ import annotations

import uuid

import pytest

from shared.envelope import VHUB_NAMESPACE, derive_id


@pytest.mark.parametrize(
    "parts",
    [("hn", "volunteer", "cmd-1"), ("",), ("hcm", "c\x1fd", "Nguyễn Văn Đức", "0"), tuple("abcdefgh")],
)
def test_derive_id_is_uuid5_of_the_joined_parts(parts: tuple[str, ...]) -> None:
    assert derive_id(*parts) == str(uuid.uuid5(VHUB_NAMESPACE, "\x1f".join(parts)))


def test_derive_id_is_pinned() -> None:
    """A value recorded in logs written since the first release."""
    assert derive_id("hn", "volunteer", "reg-1") == "440cde9e-5537-52f0-89a5-b04b4285a56c"
    assert uuid.UUID(derive_id("x")).version == 5
