"""The answer cache's kept answers: served while nothing moved, and past the one-second bound one
reader reads afresh while the others keep the answer."""

from __future__ import annotations

import time

from fastapi import Request, Response

from services.reporting.answers import AnswerCache


def asking(cache: AnswerCache, path: str = "/v1/summary") -> None:
    cache.remember(Request({"type": "http", "path": path, "query_string": b"", "headers": []}))


def test_a_kept_answer_is_served_until_a_commit() -> None:
    cache = AnswerCache()
    asking(cache)
    cache.keep(3, 0, time.monotonic(), Response(b'{"n":1}', headers={"Vhub-Position": "9"}))
    hit = cache.current(3)
    assert hit is not None
    assert hit.body == b'{"n":1}'
    assert hit.headers["vhub-position"] == "9"
    assert cache.current(4) is None  # a commit landed since


def test_past_the_bound_one_reader_refreshes_and_the_others_keep_the_answer() -> None:
    cache = AnswerCache(outside_s=60.0)
    asking(cache)
    long_ago = time.monotonic() - 120  # read before the bound
    cache.keep(1, 0, long_ago, Response(b"{}"))
    assert cache.current(1) is None  # the first reader past the bound reads afresh ...
    assert cache.current(1) is not None  # ... the next ones keep the answer meanwhile
    cache.keep(1, 0, time.monotonic(), Response(b"{}"))  # the refresh landed
    assert cache.current(1) is not None


def test_links_moving_make_a_kept_answer_stale() -> None:
    cache = AnswerCache()
    links = [0]
    cache.links = lambda: links[0]
    asking(cache)
    cache.keep(1, 0, time.monotonic(), Response(b"{}"))
    links[0] = 1
    assert cache.current(1) is None
