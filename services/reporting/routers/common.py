"""What every read route shares: the :class:`Reads` dependency (read model, ``min_position``
waiter, answer cache), the common query parameters, and the documented error answers."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import AsyncExitStack
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Query, Request, Response

from services.reporting.answers import AnswerCache, cached_answer
from services.reporting.consumer import PositionWatch
from services.reporting.http import (
    H_HUB_POSITIONS,
    H_LAST_EVENT_AT,
    H_POSITION,
    Waiter,
    answer,
    csv_response,
)
from services.reporting.hubfresh import MIN_POSITION_RE, hub_freshness, ordered, parse_min_position
from services.reporting.links import HubLinks
from services.reporting.national import NationalIndex
from services.reporting.queries import ReadModel, Row, Snapshot
from services.reporting.schemas import Invalid, NotFound, ProjectionBehind

Source = Callable[[Snapshot], AsyncIterator[list[Row]]]
Body = Callable[[Snapshot], Awaitable[Row]]
Extra = Row | Body | None

Fmt = Annotated[Literal["json", "csv"], Query(alias="format", description="json or csv")]
MinPosition = Annotated[
    str | None,
    Query(
        pattern=MIN_POSITION_RE,
        description="wait (a few seconds at most) until the figures reach these positions: 1234 (the "
        "stream read), hcm:1234 (hub hcm's log: the version its reply returned), or several, "
        "comma-separated",
    ),
]
ProvinceQ = Annotated[str | None, Query(pattern=r"^[0-9]{1,2}$", description="province code")]


class Reads:
    """The read side one app serves: answers are cached by request, log position and the hubs'
    link state, so readers between two projection commits get the same bytes without a query or
    an encode. ``links``: the hubs' sources as JetStream reports them (None: not watched)."""

    def __init__(
        self,
        read: ReadModel,
        watch: PositionWatch,
        max_wait_s: float,
        hub: str = "",
        links: HubLinks | None = None,
        national: NationalIndex | None = None,
    ) -> None:
        self.read = read
        self.national = national or NationalIndex()
        self.hub = hub
        self.links = links
        self.watch = watch
        self.waiter = Waiter(read, watch, max_wait_s)
        self.cache = AnswerCache()
        # answers also depend on the hubs' links and on the national index (the summary's counted-once)
        gen = self.national
        self.cache.links = (
            (lambda: links.generation * 1_000_003 + gen.position) if links else (lambda: gen.position)
        )

    def refuse_unread_hubs(self, min_position: str | None) -> None:
        """422 ``hub_not_read`` for a hub-qualified position of a hub whose log these figures do
        not read (it would never be reached)."""
        read = self.links.hubs if self.links is not None else frozenset()
        if not read or not min_position or not re.match(MIN_POSITION_RE, min_position):
            return
        for hub in parse_min_position(min_position).hubs:
            if hub not in read:
                raise HTTPException(
                    422,
                    detail={
                        "reason": "hub_not_read",
                        "message": f"these figures read the logs of {', '.join(ordered(read))}, not {hub}",
                    },
                )

    async def wait(self, min_position: str | None) -> None:
        """Hold the request until ``min_position`` is reached (503 after the wait)."""
        await self.waiter.until(parse_min_position(min_position))

    async def hubs(self, snap: Snapshot) -> list[Row]:
        """Freshness per hub for an answer from ``snap`` (read the links last: see AnswerCache)."""
        rows = await snap.hub_rows()
        return hub_freshness(rows, self.links.view() if self.links is not None else {})

    async def one(self, min_position: str | None, body: Body) -> Response:
        """A JSON answer built by ``body`` from one snapshot (or the cached bytes of it)."""
        mark = self._mark()  # a kept answer still current was served before routing (fastpath.py)
        await self.wait(min_position)
        async with self.read.snapshot() as snap:
            response = cached_answer(self.cache, snap)
            if response is None:
                fields = await body(snap)
                response = answer(snap, await self.hubs(snap), fields, self.cache)
        self.cache.keep(*mark, response)
        return response

    def _mark(self) -> tuple[int, Hashable, float]:
        """What an answer read from now on depends on: this process's commits, the hubs' links."""
        return self.watch.generation, self.cache.links(), time.monotonic()

    async def listing(
        self,
        fmt: str,
        name: str,
        columns: list[str],
        source: Source,
        min_position: str | None,
        extra: Extra = None,
        csv_source: Source | None = None,
    ) -> Response:
        """A list as JSON (``extra`` fields beside ``items``) or streamed as CSV."""
        mark = self._mark()  # a kept answer still current was served before routing (fastpath.py)
        await self.wait(min_position)
        stack = AsyncExitStack()
        snap = await stack.enter_async_context(self.read.snapshot())
        if fmt == "csv":
            return csv_response(name, columns, csv_source or source, stack, snap, await self.hubs(snap))
        async with stack:
            response = cached_answer(self.cache, snap)
            if response is None:
                fields = (await extra(snap)) if callable(extra) else (extra or {})
                items = [r async for chunk in source(snap) for r in chunk]
                response = answer(snap, await self.hubs(snap), {**fields, "items": items}, self.cache)
        self.cache.keep(*mark, response)
        return response


async def reads(request: Request) -> Reads:
    """The app's :class:`Reads`, with this request noted as the cache key (``min_position``
    aside). Async on purpose: the key is a context variable, set in the endpoint's own task."""
    found: Reads = request.app.state.reads
    found.refuse_unread_hubs(request.query_params.get("min_position"))  # before any other refusal
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
    H_HUB_POSITIONS: {"description": "how far the answer goes in each hub's log: hn:12,hcm:34", **_STRING},
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
