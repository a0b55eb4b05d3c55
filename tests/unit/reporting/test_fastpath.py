"""Kept answers are served before routing: the app is not entered while the answer is current,
and it is entered for min_position, for another query, after a commit, and by the one reader that
refreshes past the one-second bound (which must then read afresh, not be served the kept answer)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any, cast

from fastapi import Request, Response
from starlette.types import Message, Receive, Scope, Send

from services.reporting.answers import AnswerCache, request_key
from services.reporting.fastpath import KeptAnswers
from services.reporting.routers.common import Reads


class App:
    """The app behind the fast path: counts how often it is entered."""

    def __init__(self) -> None:
        self.entered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.entered += 1
        await Response(b"fresh")(scope, receive, send)


def scope(query: bytes = b"", path: str = "/v1/summary") -> Scope:
    return {"type": "http", "method": "GET", "path": path, "query_string": query, "headers": []}


def get(front: KeptAnswers, query: bytes = b"") -> bytes:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(front(scope(query), receive, send))
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def setup(outside_s: float = 60.0) -> tuple[KeptAnswers, App, AnswerCache, Any]:
    cache = AnswerCache(outside_s=outside_s)
    watch = SimpleNamespace(generation=1)
    app = App()
    return KeptAnswers(app, cast(Reads, SimpleNamespace(cache=cache, watch=watch))), app, cache, watch


def keep(cache: AnswerCache, generation: int, at: float, query: bytes = b"") -> None:
    cache.remember(Request(scope(query)))
    cache.keep(generation, 0, at, Response(b"kept"))


def test_a_current_kept_answer_never_enters_the_app() -> None:
    front, app, cache, _ = setup()
    keep(cache, 1, time.monotonic())
    assert [get(front) for _ in range(5)] == [b"kept"] * 5
    assert app.entered == 0


def test_min_position_another_query_and_a_commit_enter_the_app() -> None:
    front, app, cache, watch = setup()
    keep(cache, 1, time.monotonic())
    assert get(front, b"min_position=3") == b"fresh"
    assert get(front, b"province=01") == b"fresh"
    watch.generation = 2  # a commit landed
    assert get(front) == b"fresh"
    assert app.entered == 3


def test_past_the_bound_one_reader_reaches_the_app_and_the_others_keep_the_answer() -> None:
    front, app, cache, _ = setup(outside_s=60.0)
    keep(cache, 1, time.monotonic() - 120)
    assert get(front) == b"fresh"  # the refreshing reader reads afresh ...
    assert get(front) == b"kept"  # ... while the next ones keep the answer
    assert app.entered == 1


def test_the_key_ignores_min_position_and_query_order() -> None:
    a = request_key(Request(scope(b"b=2&a=1&min_position=9")))
    assert a == request_key(Request(scope(b"a=1&b=2")))
