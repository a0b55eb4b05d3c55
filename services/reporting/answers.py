"""The answer cache of the read API: JSON answers kept by request and by what they reflect."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from services.reporting.queries import Snapshot


@dataclass(frozen=True, slots=True)
class Kept:
    """The newest answer to a request and what it was read at: this process's projection
    generation (:class:`PositionWatch`), the hubs' link generation, the monotonic time."""

    generation: int
    links: Hashable
    at: float
    payload: bytes
    headers: dict[str, str]


class AnswerCache:
    """JSON answers by request, by the position they reflect and by the hubs' link state
    (``links``, a generation that moves when any hub's source or lag changes): figures only change
    when the projection moves, so readers between two batches share one answer (and one query).

    The newest answer to each request is also kept with the projection generation it was read at:
    while no commit of this process has landed since, the links are unchanged, and for at most
    ``outside_s`` (the bound on noticing a writer in another process, such as a rebuild's colour
    switch), it is served as it is, without a database round trip or an encode."""

    def __init__(self, size: int = 1_024, outside_s: float = 1.0) -> None:
        self._size = size
        self._outside_s = outside_s
        self._answers: OrderedDict[tuple[Any, ...], tuple[bytes, dict[str, str]]] = OrderedDict()
        self._kept: OrderedDict[tuple[Any, ...], Kept] = OrderedDict()
        self._refreshing: dict[tuple[Any, ...], float] = {}  # request -> when one reader set out
        self._request: ContextVar[tuple[Any, ...] | None] = ContextVar("request", default=None)
        self.links: Callable[[], Hashable] = lambda: 0

    def current(self, generation: int, request: tuple[Any, ...] | None = None) -> Response | None:
        """The kept answer to this request (``request``: a :func:`request_key`, else the one
        :meth:`remember` noted), if nothing it depends on has moved since it was read."""
        request = request or self._request.get()
        if request is None:
            return None
        kept = self._kept.get(request)
        if kept is None or kept.generation != generation or kept.links != self.links():
            return None
        now = time.monotonic()
        if now - kept.at > self._outside_s:
            # past the bound: one reader reads afresh, the others keep the answer meanwhile (the
            # 50 readers of a busy dashboard would otherwise all query the database at once)
            started = self._refreshing.get(request)
            if started is None or now - started > self._outside_s:
                self._refreshing[request] = now
                return None
        return Response(kept.payload, media_type="application/json", headers=kept.headers)

    def keep(self, generation: int, links: Hashable, read_at: float, response: Response) -> None:
        """Keep ``response`` as the answer to this request at ``generation`` and ``links`` (both
        taken before the snapshot was opened, so a commit landing meanwhile makes it stale)."""
        request = self._request.get()
        if request:
            headers = {k: v for k, v in response.headers.items() if k.lower().startswith("vhub-")}
            self._kept[request] = Kept(generation, links, read_at, bytes(response.body), headers)
            self._refreshing.pop(request, None)
            self._kept.move_to_end(request)
            if len(self._kept) > self._size:
                self._kept.popitem(last=False)

    def remember(self, request: Request) -> None:
        """Note which request this is (without ``min_position``), for the rest of its task."""
        self._request.set(request_key(request))

    def get(self, snap: Snapshot) -> tuple[bytes, dict[str, str]] | None:
        key = self._key(snap)
        return self._answers.get(key) if key else None

    def put(self, snap: Snapshot, payload: bytes, headers: dict[str, str]) -> None:
        key = self._key(snap)
        if key:
            self._answers[key] = (payload, headers)
            if len(self._answers) > self._size:
                self._answers.popitem(last=False)

    def _key(self, snap: Snapshot) -> tuple[Any, ...] | None:
        request = self._request.get()
        f = snap.freshness
        return (*request, f.colour, f.position, self.links()) if request else None


def request_key(request: Request) -> tuple[Any, ...]:
    """What an answer is kept by: the path and the sorted query, ``min_position`` aside."""
    query = tuple(sorted(kv for kv in request.query_params.multi_items() if kv[0] != "min_position"))
    return (request.url.path, query)


def cached_answer(cache: AnswerCache, snap: Snapshot) -> Response | None:
    hit = cache.get(snap)
    if hit is None:
        return None
    return Response(hit[0], media_type="application/json", headers=hit[1])
