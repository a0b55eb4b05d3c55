"""The bounded JSON decoder: every hostile body fails in one typed error that quotes nothing."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.jsonbody import MAX_DEPTH, BadBody, decode_object, decode_object_reference, nesting_depth

pytestmark = pytest.mark.property

# Every reason the decoder gives, as templates: none has room for the input.
REASONS = re.compile(
    r"^(body is larger than \d+ bytes|body is not valid UTF-8|body nests deeper than \d+ levels"
    r"|body is not JSON(: [A-Za-z ',:]+ at char \d+)?|body must be a JSON object"
    r"|NaN and Infinity are not JSON numbers|a number has more than \d+ characters|a number is out of range"
    r"|body has a duplicate key|body has a string with a lone surrogate escape)$"
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def outcome(raw: bytes) -> dict[str, Any] | BadBody:
    try:
        return decode_object(raw)
    except BadBody as err:
        return err


@given(st.binary(max_size=2_000))
def test_arbitrary_bytes_decode_or_fail_typed(raw: bytes) -> None:
    """Any bytes give an object or a BadBody with a templated reason, never another exception."""
    result = outcome(raw)
    if isinstance(result, BadBody):
        assert REASONS.match(result.reason), result.reason
    else:
        assert isinstance(result, dict)


@given(st.dictionaries(st.text(max_size=8), values, max_size=6))
def test_valid_objects_round_trip(body: dict[str, Any]) -> None:
    """A bounded JSON object decodes to itself (no false refusals); its depth scan is an upper bound."""
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert nesting_depth(raw) >= depth(body)
    if depth(body) <= MAX_DEPTH:
        assert decode_object(raw) == body


@given(st.lists(st.sampled_from(["[", '{"k":']), min_size=MAX_DEPTH + 1, max_size=30_000), st.booleans())
def test_any_nesting_past_the_limit_is_refused_before_parsing(openers: list[str], closed: bool) -> None:
    """Nesting past the limit (closed or not, arrays and objects mixed) is refused, no RecursionError."""
    text = '{"a":' + "".join(openers) + "1"
    if closed:
        text += "".join("]" if o == "[" else "}" for o in reversed(openers)) + "}"
    with pytest.raises(BadBody, match="nests deeper"):
        decode_object(text.encode())


@given(st.text(alphabet="[]{}", max_size=3_000))
def test_brackets_inside_strings_do_not_count(brackets: str) -> None:
    """A string full of brackets is a string, not nesting."""
    assert decode_object(json.dumps({"s": brackets}).encode()) == {"s": brackets}


@given(st.integers(min_value=41, max_value=200_000))
def test_huge_numbers_are_refused(digits: int) -> None:
    """Integers past the literal limit (and so past Python's 4,300-digit int limit) are a BadBody."""
    raw = b'{"n":' + b"7" * digits + b"}"
    with pytest.raises(BadBody, match=r"number|larger"):
        decode_object(raw)


def reference(raw: bytes) -> dict[str, Any] | BadBody:
    try:
        return decode_object_reference(raw)
    except BadBody as err:
        return err


def same(raw: bytes) -> None:
    fast, ref = outcome(raw), reference(raw)
    if isinstance(ref, BadBody):
        assert isinstance(fast, BadBody), raw
        assert fast.reason == ref.reason, raw
    else:
        assert fast == ref, raw
        assert [type(v) for v in fast.values()] == [type(v) for v in ref.values()], raw  # 1 is not 1.0


JSONISH = st.sampled_from([*'{}[]":,.-+eE0123456789 \\tnrufalsNIy', "\\ud800", "\\u00e9", "é", "\xff"])


@given(st.binary(max_size=500))
def test_fast_and_reference_decoders_agree_on_bytes(raw: bytes) -> None:
    """On any bytes the fast decoder answers what the reference decoder answers, reason and all."""
    same(raw)


@given(
    st.dictionaries(st.text(max_size=8), values, max_size=6),
    st.lists(st.tuples(st.integers(0, 400), JSONISH), max_size=4),
)
def test_fast_and_reference_decoders_agree_near_valid_json(
    body: dict[str, Any], edits: list[tuple[int, str]]
) -> None:
    """Valid objects, and objects with a few characters spliced in, get the same answer from both."""
    text = json.dumps(body, ensure_ascii=bool(edits))
    for at, piece in edits:
        text = text[:at] + piece + text[at:]
    same(text.encode("utf-8", "surrogatepass"))


@given(
    st.lists(st.tuples(st.sampled_from(["a", "b:", ":"]), st.text(alphabet="ab:", max_size=6)), max_size=6)
)
def test_colons_in_strings_never_hide_a_duplicate_key(pairs: list[tuple[str, str]]) -> None:
    """Keys and values full of colons (timestamps), duplicates or not: the reference's answer."""
    same(("{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}").encode())


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1,"a":2}',
        b'{"t":"08:00","t":"09:00"}',
        b'{"t":"08:00","u":"x","t":"y"}',
        b'{"a:b":"c:d","a:b":1}',
        b'{"a":["x:y",{"k:":":"}],"a":"z"}',
        b'{"a":"\\u003a","a":":"}',
        b'{"a":"\\u003a:","b":":"}',
        b'{"a":{"b":1,"b":1}}',
        b'{"n":18446744073709551615}',
        b'{"n":18446744073709551616}',
        b'{"n":-9223372036854775809}',
        b'{"n":' + b"7" * 40 + b"}",
        b'{"f":1.' + b"0" * 60 + b"}",
        b'{"f":1e5, "g": 0.1}',
        b'{"a":-0}',
        b"\xef\xbb\xbf{}",
        b'{"a":[' + b"{}," * 30 + b"{}]}",
    ],
)
def test_fast_and_reference_decoders_agree_where_orjson_differs(raw: bytes) -> None:
    """Duplicate keys, integers past 64 bits, long or float literals, a BOM: the reference's answer."""
    same(raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"a":NaN}', "NaN"),
        (b'{"a":-Infinity}', "NaN"),
        (b'{"a":1e999}', "out of range"),
        (b'{"a":1,"a":2}', "duplicate key"),
        (b'{"a":"\\ud800"}', "lone surrogate"),
        (b'{"\\udfff":1}', "lone surrogate"),
        (b"\xff\xfe{\x00}\x00", "UTF-8"),
        (b"[1]", "JSON object"),
        (b'"text"', "JSON object"),
        (b"", "not JSON"),
        (b"[" * 100_000, "nests deeper"),
        (b"x" * 300_000, "larger than"),
    ],
)
def test_each_hostile_kind_has_its_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(BadBody, match=reason) as err:
        decode_object(raw)
    assert REASONS.match(err.value.reason)


def test_a_valid_surrogate_pair_is_kept() -> None:
    assert decode_object(b'{"a":"\\ud83d\\ude00"}') == {"a": "\U0001f600"}


def test_limits_are_parameters() -> None:
    """Callers may choose tighter or looser bounds."""
    with pytest.raises(BadBody, match="larger than 10 bytes"):
        decode_object(b'{"a":"0123456789"}', max_bytes=10)
    assert decode_object(b'{"a":[[[]]]}', max_depth=4) == {"a": [[[]]]}
    with pytest.raises(BadBody, match="deeper than 3"):
        decode_object(b'{"a":[[[]]]}', max_depth=3)


def test_the_reason_never_quotes_the_input() -> None:
    """A secret in a broken body does not come back in the reason."""
    for raw in (b'{"phone":"0977123450"', b'{"0977123450":NaN}', b'{"x":"0977123450", 0977123450}'):
        with pytest.raises(BadBody) as err:
            decode_object(raw)
        assert "0977" not in err.value.reason
