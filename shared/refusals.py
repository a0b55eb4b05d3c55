"""Refusals that quote nothing from the input, and replies that always fit in one NATS message.

A reply built from outside input can grow without bound (a 1,000,353-byte ``unknown_commune`` reply
was seen), and a publish over the server's ``max_payload`` closes the connection (FACTS.md). So:
validation errors name a field only when it is one of the command's own fields, unknown fields are
counted (their names are input), at most ``MAX_LISTED`` problems are listed, and every reply passes
through :func:`encode_reply`, the one place a reply's size is bounded before it is published.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError

log = structlog.get_logger(__name__)

MAX_REPLY_BYTES = 64 * 1024  # 1/16 of the default max_payload; the largest reply (a rotation) is ~20 KB
MAX_LISTED = 10  # problems listed in a refusal; the rest are counted
MAX_TEXT = 200  # characters of one problem, and of a reason cut down to fit
INTERNAL_REASON = "the command could not be recorded; it is safe to send it again"
INTERNAL_ERROR = json.dumps(
    {"accepted": False, "code": "internal_error", "reason": INTERNAL_REASON, "details": {}}
).encode()


def describe(err: ValidationError, model: type[BaseModel]) -> tuple[str, dict[str, Any]]:
    """A short reason and bounded details for a validation failure; no input value or unknown key."""
    known = field_names(model)
    listed: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    unknown = more = 0
    for e in err.errors(include_input=False, include_url=False, include_context=False):
        if e["type"] == "extra_forbidden":
            unknown += 1
            continue
        # pydantic's union and validator tags, dict keys and the like are left out of the path
        path = ".".join(str(p) for p in e["loc"] if isinstance(p, int) or p in known)
        problem = e["msg"][:MAX_TEXT]
        if (path, problem) in seen:
            continue
        seen.add((path, problem))
        if len(listed) < MAX_LISTED:
            listed.append({"field": path, "problem": problem})
        else:
            more += 1
    parts = [f"{e['field'] or 'command'}: {e['problem']}" for e in listed]
    details: dict[str, Any] = {"errors": listed}
    if more:
        parts.append(f"{more} more problems")
        details["more_errors"] = more
    if unknown:
        parts.append(f"{unknown} unknown field{'s' if unknown > 1 else ''}")
        details["unknown_fields"] = unknown
    return "; ".join(parts), details


@functools.cache
def field_names(model: type[BaseModel]) -> frozenset[str]:
    """Every field name (and alias) of ``model`` and of the models nested in its annotations."""
    names: set[str] = set()
    stack: list[Any] = [model]
    visited: set[Any] = set()
    while stack:
        tp = stack.pop()
        if tp in visited:
            continue
        visited.add(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            for name, info in tp.model_fields.items():
                names.add(name)
                if info.alias:
                    names.add(info.alias)
                stack.append(info.annotation)
        else:
            stack.extend(a for a in typing.get_args(tp) if a is not types.NoneType)
    return frozenset(names)


def encode_reply(reply: BaseModel) -> bytes:
    """The reply's JSON, cut down to a bounded form if it would exceed ``MAX_REPLY_BYTES``."""
    try:
        fast = getattr(reply, "json_bytes", None)  # shared.commands.Accepted: the same bytes, cheaper
        data = fast() if fast is not None else reply.model_dump_json(exclude_none=True).encode()
    except Exception:  # a value that cannot be serialised must still get an answer
        log.exception("reply_not_serialisable", reply=type(reply).__name__)
        return INTERNAL_ERROR
    if len(data) <= MAX_REPLY_BYTES:
        return data
    full = reply.model_dump(mode="json", exclude_none=True)
    log.error("reply_too_large", size=len(data), code=full.get("code"), accepted=full.get("accepted"))
    if full.get("accepted"):
        # the command was recorded: say so, and say the rest was cut (a resend is a duplicate)
        short = {k: full[k] for k in ("accepted", "aggregate_id", "version", "duplicate") if k in full}
        short["warnings"] = [{"code": "reply_truncated", "size": len(data)}]
    else:
        short = {
            "accepted": False,
            "code": str(full.get("code", "internal_error"))[:64],
            "reason": str(full.get("reason", ""))[:MAX_TEXT],
            "details": {"truncated": True, "size": len(data)},
        }
    encoded = json.dumps(short, ensure_ascii=False).encode()
    return encoded if len(encoded) <= MAX_REPLY_BYTES else INTERNAL_ERROR
