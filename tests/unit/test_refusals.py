"""Refusals name no input and every reply fits far below max_payload (issue 10, defect 3)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.registry.domain.commands import DesignateBorderCommunes, RegisterVolunteer
from shared.commands import Accepted, Refused, invalid
from shared.refusals import MAX_LISTED, MAX_REPLY_BYTES, encode_reply

pytestmark = pytest.mark.property


def refusal(model: type[RegisterVolunteer] | type[DesignateBorderCommunes], body: object) -> Refused:
    with pytest.raises(ValidationError) as err:
        model.model_validate(body)
    return invalid(err.value, model)


@given(st.dictionaries(st.text(min_size=1, max_size=300), st.integers() | st.text(max_size=50), max_size=60))
def test_unknown_keys_are_counted_never_named(extra: dict[str, object]) -> None:
    """Whatever unknown keys arrive, the refusal counts them and quotes none."""
    extra = {f"zz{k}": v for k, v in extra.items()}
    if not extra:
        return
    refused = refusal(RegisterVolunteer, extra)
    data = encode_reply(refused)
    assert refused.details["unknown_fields"] == len(extra)
    for key in extra:
        assert key.encode() not in data or len(key) < 4
    assert len(refused.details["errors"]) <= MAX_LISTED


def test_many_bad_items_are_listed_up_to_the_bound() -> None:
    refused = refusal(DesignateBorderCommunes, {"commune_codes": ["x" * 50] * 4_000})
    assert len(refused.details["errors"]) <= MAX_LISTED
    assert len(encode_reply(refused)) < 4_000


def test_an_oversize_reply_is_cut_to_a_bounded_one() -> None:
    """The one size gate: a refusal or an acceptance over the bound still goes out, bounded."""
    big = Refused(code="some_rule", reason="r" * 10, details={"x": "y" * (2 * MAX_REPLY_BYTES)})
    cut = json.loads(encode_reply(big))
    assert cut["code"] == "some_rule"
    assert cut["details"]["truncated"]
    ok = Accepted(aggregate_id="a1", version=7, result={"rows": ["z" * 1_000] * 200})
    data = encode_reply(ok)
    assert len(data) <= MAX_REPLY_BYTES
    reply = json.loads(data)
    assert reply["accepted"]
    assert reply["version"] == 7
    assert reply["warnings"][0]["code"] == "reply_truncated"


def test_an_unserialisable_reply_becomes_internal_error() -> None:
    bad = Refused(code="x", reason="\ud800")  # a lone surrogate cannot be encoded
    assert json.loads(encode_reply(bad))["code"] == "internal_error"
