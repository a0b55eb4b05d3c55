"""The one JSON decoder for bodies that come from outside (commands, ingest facts).

``json.loads`` alone is not safe on hostile input: 10,000 nested brackets raise ``RecursionError``
(not ``ValueError``), ``1e999`` becomes ``inf``, ``NaN`` is accepted, a 5,000-digit integer raises
``ValueError`` only by the interpreter's int-size limit, duplicate keys silently keep the last one,
``\\ud800`` yields a string that cannot be encoded again, and bytes are guessed as UTF-16/32. Here every
such body fails in one typed error, :class:`BadBody`, whose reason is short and never quotes the input
(it may be personal data, and a reply or dead letter that echoes it can grow past the server's
max payload).

The depth is checked BEFORE ``json.loads`` runs, by a scan of the brackets outside strings, so the
parser never recurses deeper than ``max_depth`` and ``RecursionError`` cannot happen.

:func:`decode_object_reference` is that decoder, the definition. :func:`decode_object` answers the
same, faster (orjson: about a fifth of the stdlib parser with its hooks): orjson already refuses
NaN, Infinity, out-of-range floats, lone surrogates and invalid UTF-8, and its result is kept only
when the reference decoder would return the same object: shallow enough, no float (orjson turns an
integer past 64 bits into one, and float literals have the reference's length limit), and as many
keys as the body has colons outside strings (so no duplicate key). Anything else, every failure
included, goes to the reference decoder, so every reason is still its reason.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

import orjson

MAX_BYTES = 256 * 1024  # the largest command (a province's 5,000 commune codes) is about 65 KB
MAX_DEPTH = 16  # commands nest two or three levels
MAX_NUMBER_CHARS = 40  # a number literal longer than this is not a count, an id or a coordinate

# A JSON string literal, or an unterminated one running to the end (the parser fails there, so
# nothing after it matters). Possessive, with disjoint alternatives: linear on any input.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+"?', re.DOTALL)
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_LONE_SURROGATE_HINT = re.compile(r"\\u[dD][89a-fA-F]")


class BadBody(ValueError):
    """A body that is not a bounded JSON object; ``reason`` is safe to send back and to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_object(raw: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Decode ``raw`` as one JSON object of at most ``max_bytes`` bytes and ``max_depth`` levels.

    Raises :class:`BadBody` for every failure: too big, not UTF-8, too deep, not JSON, not an
    object, NaN/Infinity, a number literal out of range, a duplicate key, a lone surrogate.
    Answers exactly as :func:`decode_object_reference` does.
    """
    if len(raw) <= max_bytes and (
        raw.count(b"[") + raw.count(b"{") <= max_depth or nesting_depth(raw) <= max_depth
    ):
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # the reference decoder says why
        else:
            if type(body) is dict and _as_reference(raw, body):
                return body
    return decode_object_reference(raw, max_bytes=max_bytes, max_depth=max_depth)


def _as_reference(raw: bytes, body: dict[str, Any]) -> bool:
    """True when the reference decoder would return ``body`` for ``raw`` (which orjson parsed)."""
    keys = 0
    in_strings = 0  # colons in the strings (keys too) that ``body`` kept
    stack: list[Any] = [body]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            keys += len(item)
            for key in item:
                in_strings += key.count(":")
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is str:
            in_strings += item.count(":")
        elif kind is float:
            return False
    # Valid JSON has colons after keys and in strings only, so the body's colons are its keys'
    # (one each, duplicates included) plus those in its strings. Without ``\u`` escapes (one may
    # spell a colon) each colon of a kept string is one in the body; a duplicate's overwritten
    # key and value only add colons. So equality holds exactly when no key was overwritten
    # (commands carry timestamps: their colons made the regex below run on every one).
    colons = raw.count(b":")
    if colons == keys or (colons - in_strings == keys and b"\\u" not in raw):
        return True
    return _STRING.sub(b"", raw).count(b":") == keys


def decode_object_reference(
    raw: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """The definition of :func:`decode_object`, on the standard library's parser."""
    if len(raw) > max_bytes:
        raise BadBody(f"body is larger than {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("body is not valid UTF-8") from None
    if raw.count(b"[") + raw.count(b"{") > max_depth and nesting_depth(raw) > max_depth:
        raise BadBody(f"body nests deeper than {max_depth} levels")
    try:
        body = _DECODER.decode(text)
    except BadBody:
        raise
    except json.JSONDecodeError as err:
        raise BadBody(f"body is not JSON: {err.msg} at char {err.pos}") from None
    except (ValueError, RecursionError):  # RecursionError cannot happen after the scan; belt and braces
        raise BadBody("body is not JSON") from None
    if not isinstance(body, dict):
        raise BadBody("body must be a JSON object")
    if _LONE_SURROGATE_HINT.search(text) and not _encodable(body):
        raise BadBody("body has a string with a lone surrogate escape")
    return body


def nesting_depth(raw: bytes) -> int:
    """The deepest bracket nesting of ``raw`` outside string literals (an upper bound for the parser)."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(1 if b in b"[{" else -1 for b in brackets), default=0)


def _refuse_constant(name: str) -> Any:
    raise BadBody("NaN and Infinity are not JSON numbers")


def _parse_int(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise BadBody(f"a number has more than {MAX_NUMBER_CHARS} characters")
    return int(literal)


def _parse_float(literal: str) -> float:
    if len(literal) > MAX_NUMBER_CHARS:
        raise BadBody(f"a number has more than {MAX_NUMBER_CHARS} characters")
    value = float(literal)
    if not math.isfinite(value):
        raise BadBody("a number is out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    body = dict(pairs)
    if len(body) != len(pairs):
        raise BadBody("body has a duplicate key")
    return body


# Built once: json.loads with any hook builds a new decoder on every call (measurable per command).
_DECODER = json.JSONDecoder(
    parse_constant=_refuse_constant,
    parse_int=_parse_int,
    parse_float=_parse_float,
    object_pairs_hook=_unique_keys,
)


def _encodable(value: Any) -> bool:
    """True when every string in ``value`` (keys too) encodes as UTF-8 (no lone surrogates)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True
