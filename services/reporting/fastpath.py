"""Kept answers served in front of the router: a GET whose answer is kept and still current
(:meth:`AnswerCache.current`) is answered here, before FastAPI resolves the route, its query
parameters and its dependencies, which cost more than the answer itself (issue 14: the read API
at cache speed). Anything else (``min_position``, CSV, a first or stale read, a refusal) goes to
the app, which reads, answers and keeps the answer for the next reader.

A kept answer is only ever one the app gave to the same path and query, so the validation, the
404s and the headers of that first answer hold for it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.reporting.answers import request_key
from services.reporting.routers.common import Reads


class KeptAnswers:
    """ASGI middleware: the kept answer of ``reads``'s cache, or the wrapped app."""

    def __init__(self, app: ASGIApp, reads: Reads) -> None:
        self.app = app
        self.reads = reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and b"min_position" not in scope["query_string"]
        ):
            kept = self.reads.cache.current(self.reads.watch.generation, request_key(Request(scope)))
            if kept is not None:
                await kept(scope, receive, send)
                return
        await self.app(scope, receive, send)
