"""Every figure as the reporting API serves it, in the shape of :func:`expected.expected_view`."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from services.reporting.models import FIGURES


async def observed_view(client: httpx.AsyncClient, provinces: list[str], days: list[date]) -> dict[str, Any]:
    async def get(path: str, **params: Any) -> Any:
        resp = await client.get(path, params=params)
        assert resp.status_code == 200, (path, resp.status_code, resp.text)
        return resp.json()

    def figs(row: dict[str, Any]) -> dict[str, int]:
        return {k: row[k] for k in FIGURES}

    def detail(body: dict[str, Any]) -> dict[str, Any]:
        return {k: body[k] for k in ("figures", "teams_by_focus", "volunteers_by_affiliation")}

    summary = await get("/v1/summary")
    communes: dict[str, Any] = {}
    for p in provinces:
        communes |= {r["code"]: figs(r) for r in (await get(f"/v1/provinces/{p}/communes"))["items"]}
    daily = {
        scope: {
            r["day"]: figs(r)
            for r in (await get("/v1/daily", **({"province": scope} if scope else {})))["items"]
            if any(figs(r).values())
        }
        for scope in ["", *provinces]
    }
    teams: dict[str, Any] = {}
    page = 1
    while True:
        body = await get("/v1/teams", page=page, page_size=25)
        teams |= {
            r["team_id"]: {
                k: r[k]
                for k in (
                    "province_code",
                    "commune_code",
                    "focus",
                    "active",
                    "members",
                    "dispatches",
                    "check_ins",
                    "no_shows",
                    "people_supported",
                )
            }
            for r in body["items"]
        }
        if page * 25 >= body["total"]:
            break
        page += 1
    coverage = {
        f"{r['day']}/{r['service_point_id']}": {
            k: r[k] for k in ("requested", "dispatched", "check_ins", "over_capacity") if r[k]
        }
        for r in (await get("/v1/coverage"))["items"]
        if any(r[k] for k in ("requested", "dispatched", "check_ins", "over_capacity"))
    }
    return {
        "summary": detail(summary) | {k: summary[k] for k in ("border_communes", "possible_duplicates")},
        "provinces": {r["code"]: figs(r) for r in (await get("/v1/provinces"))["items"]},
        "province_detail": {p: detail(await get(f"/v1/provinces/{p}")) for p in provinces},
        "communes": communes,
        "daily": daily,
        "teams": teams,
        "coverage": coverage,
        "duplicates": {
            r["volunteer_id"]: r["duplicate_of"] for r in (await get("/v1/possible-duplicates"))["items"]
        },
        "border": {
            str(day): {
                r["commune_code"]: (bool(r["covered_day"]), bool(r["covered_week"]), r["days_covered"])
                for r in (await get("/v1/border-communes", date=str(day)))["items"]
            }
            for day in days
        },
    }
