"""HTTP plumbing for the read API: freshness on every response, ``min_position`` waits, CSV.

Only the API modules import fastapi.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack
from typing import Any

from fastapi import HTTPException, Response
from fastapi.responses import JSONResponse, StreamingResponse

from services.reporting.answers import AnswerCache
from services.reporting.consumer import PositionWatch
from services.reporting.hubfresh import Wanted, behind
from services.reporting.queries import Freshness, ReadModel, Row, Snapshot
from shared.refdata import communes, provinces

H_POSITION = "Vhub-Position"
H_LAST_EVENT_AT = "Vhub-Last-Event-At"
H_HUB_POSITIONS = "Vhub-Hub-Positions"  # hcm:1234,ct:56: how far the answer goes in each hub's log


def freshness_out(f: Freshness, hubs: list[Row]) -> Row:
    """The ``freshness`` of an answer: the read stream's position, and per hub (:mod:`.hubfresh`)."""
    at = f.last_event_at.isoformat() if f.last_event_at else None
    return {"position": f.position, "last_event_at": at, "hubs": hubs}


def freshness_headers(f: Freshness, hubs: list[Row] | None = None) -> dict[str, str]:
    out = {H_POSITION: str(f.position)}
    if f.last_event_at:
        out[H_LAST_EVENT_AT] = f.last_event_at.isoformat()
    if hubs:
        out[H_HUB_POSITIONS] = ",".join(f"{h['hub']}:{h['position']}" for h in hubs)
    return out


def answer(
    snap: Snapshot, hubs: list[Row], body: dict[str, Any], cache: AnswerCache | None = None
) -> JSONResponse:
    """A JSON answer that says how fresh it is, in the body and in headers."""
    headers = freshness_headers(snap.freshness, hubs)
    response = JSONResponse(
        jsonable({"freshness": freshness_out(snap.freshness, hubs), **body}), headers=headers
    )
    if cache is not None:
        cache.put(snap, bytes(response.body), headers)
    return response


def jsonable(value: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)


class Waiter:
    """Holds a request until the projection reaches ``min_position`` (the stream's, and each hub's
    asked for), for a bounded time."""

    def __init__(self, read: ReadModel, watch: PositionWatch, max_wait_s: float) -> None:
        self._read = read
        self._watch = watch
        self.max_wait_s = max_wait_s

    async def until(self, wanted: Wanted) -> None:
        if not wanted.position and not wanted.hubs:
            return
        deadline = time.monotonic() + self.max_wait_s
        while True:
            mark = self._watch.mark()
            position = await self._read.position()
            hubs = await self._read.hub_positions() if wanted.hubs else {}
            late = behind(wanted, position, hubs)
            if late is None:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise _behind(*late)
            # Woken by our own projection's commits; the short cap covers other writers.
            await self._watch.wait(min(left, 0.05), since=mark)


def _behind(hub: str | None, reached: int, wanted: int) -> HTTPException:
    where = f"hub {hub}'s log" if hub else "the log"
    return HTTPException(
        status_code=503,
        detail={
            "reason": "projection_behind",
            "position": reached,
            "min_position": wanted,
            "hub": hub,
            "message": f"figures reflect position {reached} of {where}, not yet {wanted}; retry shortly",
        },
        headers={"Retry-After": "1", H_POSITION: str(reached)},
    )


def csv_response(
    name: str,
    columns: list[str],
    rows: Callable[[Snapshot], AsyncIterator[Iterable[Row]]],
    stack: AsyncExitStack,
    snap: Snapshot,
    hubs: list[Row],
) -> Response:
    """Stream ``rows`` as CSV from the snapshot ``snap`` (closed by ``stack`` at the end)."""

    async def body() -> AsyncIterator[str]:
        try:
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            async for chunk in rows(snap):
                writer.writerows(inert(row) for row in chunk)
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
            yield buf.getvalue()
        finally:
            await stack.aclose()

    headers = {
        **freshness_headers(snap.freshness, hubs),
        "Content-Disposition": f'attachment; filename="{name}.csv"',
    }
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=headers)


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(row: Row) -> Row:
    """``row`` with every text cell that could start a formula prefixed by an apostrophe, which
    spreadsheets show as text. Numbers stay numbers (a negative shortfall is not a formula)."""
    if not any(isinstance(v, str) and v.startswith(FORMULA_STARTS) for v in row.values()):
        return row
    return {k: f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v for k, v in row.items()}


# -- codes: unknown ones are a 404 with the reason -------------------------------------------


def _unknown(kind: str, code: str) -> HTTPException:
    return HTTPException(
        404, detail={"reason": f"unknown_{kind}", "message": f"no {kind} with code {code!r}"}
    )


def _digits(code: str) -> bool:
    # str.isdigit() also holds for "٧" (int() reads it as 7) and "²" (int() raises): ASCII only
    return code.isascii() and code.isdigit()


def province_or_404(code: str | None) -> str | None:
    if code is None:
        return None
    norm = f"{int(code):02d}" if _digits(code) and len(code) <= 2 else code
    if norm not in provinces():
        raise _unknown("province", code)
    return norm


def commune_or_404(code: str) -> str:
    norm = f"{int(code):05d}" if _digits(code) and len(code) <= 5 else code
    if norm not in communes():
        raise _unknown("commune", code)
    return norm


def place_or_404(province: str | None, commune: str | None) -> tuple[str | None, str | None]:
    """The (province, commune) codes asked for, normalised; 404 for an unknown one, or for a
    commune that is not in the province given."""
    code = province_or_404(province)
    place = commune_or_404(commune) if commune else None
    if place and code and communes()[place].province_code != code:
        raise HTTPException(404, detail={"reason": "unknown_commune", "message": f"{place} is not in {code}"})
    return code, place


def named(row: Row) -> Row:
    commune = communes().get(row["commune_code"])
    return {**row, "name": commune.name if commune else None}
