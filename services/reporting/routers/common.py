"""What every read route shares: the :class:`Reads` dependency (read model, ``min_position``
waiter, answer cache), the common query parameters, and the documented error answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response

from services.reporting.consumer import PositionWatch
from services.reporting.http import (
    H_LAST_EVENT_AT,
    H_POSITION,
    AnswerCache,
    Waiter,
    answer,
    cached_answer,
    csv_response,
)
from services.reporting.queries import ReadModel, Row, Snapshot
from services.reporting.schemas import Invalid, NotFound, ProjectionBehind

Source = Callable[[Snapshot], AsyncIterator[list[Row]]]
Body = Callable[[Snapshot], Awaitable[Row]]
Extra = Row | Body | None

Fmt = Annotated[Literal["json", "csv"], Query(alias="format", description="json or csv")]
MinPosition = Annotated[
    int | None, Query(ge=1, description="wait (a few seconds at most) until this log position")
]
ProvinceQ = Annotated[str | None, Query(pattern=r"^[0-9]{1,2}$", description="province code")]


class Reads:
    """The read side one app serves: answers are cached by request and log position, so readers
    between two projection commits get the same bytes without a query or an encode."""

    def __init__(self, read: ReadModel, watch: PositionWatch, max_wait_s: float, hub: str = "") -> None:
        self.read = read
        self.hub = hub
        self.waiter = Waiter(read, watch, max_wait_s)
        self.cache = AnswerCache()

    async def one(self, min_position: int | None, body: Body) -> Response:
        """A JSON answer built by ``body`` from one snapshot (or the cached bytes of it)."""
        await self.waiter.until(min_position)
        async with self.read.snapshot() as snap:
            if hit := cached_answer(self.cache, snap):
                return hit
            return answer(snap, await body(snap), self.cache)

    async def listing(
        self,
        fmt: str,
        name: str,
        columns: list[str],
        source: Source,
        min_position: int | None,
        extra: Extra = None,
        csv_source: Source | None = None,
    ) -> Response:
        """A list as JSON (``extra`` fields beside ``items``) or streamed as CSV."""
        await self.waiter.until(min_position)
        stack = AsyncExitStack()
        snap = await stack.enter_async_context(self.read.snapshot())
        if fmt == "csv":
            return csv_response(name, columns, csv_source or source, stack, snap)
        async with stack:
            if hit := cached_answer(self.cache, snap):
                return hit
            fields = (await extra(snap)) if callable(extra) else (extra or {})
            items = [r async for chunk in source(snap) for r in chunk]
            return answer(snap, {**fields, "items": items}, self.cache)


async def reads(request: Request) -> Reads:
    """The app's :class:`Reads`, with this request noted as the cache key (``min_position``
    aside). Async on purpose: the key is a context variable, set in the endpoint's own task."""
    found: Reads = request.app.state.reads
    found.cache.remember(request)
    return found


ReadsDep = Annotated[Reads, Depends(reads)]


def rows(make: Callable[[Snapshot], Any], enrich: Callable[[Row], Row] | None = None) -> Source:
    """A source streaming the rows of the query ``make(snapshot)`` builds."""

    async def source(snap: Snapshot) -> AsyncIterator[list[Row]]:
        async for chunk in snap.stream(make(snap)):
            yield [enrich(r) for r in chunk] if enrich else chunk

    return source


_STRING = {"schema": {"type": "string"}}
_FRESH_HEADERS = {
    H_POSITION: {"description": "the log position this answer reflects", "required": True, **_STRING},
    H_LAST_EVENT_AT: {"description": "when the last applied event was recorded (ISO 8601)", **_STRING},
}
_BEHIND: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ProjectionBehind,
        "description": "projection_behind: the figures have not reached min_position in time",
        "headers": {
            "Retry-After": {"description": "seconds", "required": True, **_STRING},
            H_POSITION: {"description": "the position reached", **_STRING},
        },
    },
}
_INVALID: dict[int | str, dict[str, Any]] = {422: {"model": Invalid, "description": "a refused parameter"}}
_UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: {"model": NotFound, "description": "unknown_province or unknown_commune"}
}

ONE: dict[int | str, dict[str, Any]] = {200: {"headers": _FRESH_HEADERS}, **_INVALID, **_BEHIND}
ONE_OR_404 = {**ONE, **_UNKNOWN}
LIST: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": _FRESH_HEADERS,
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "JSON, or with format=csv a CSV file of every row (the same columns)",
    },
    **_INVALID,
    **_BEHIND,
}
LIST_OR_404 = {**LIST, **_UNKNOWN}
