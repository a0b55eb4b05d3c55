"""The dashboard in a real browser (Debian's headless Chromium driven by Playwright) over a running
reporting service and registry (real nats-server, real SQLite): the figures it shows are the API's,
and they follow new commands by themselves."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from nats.aio.client import Client
from playwright.async_api import Page, async_playwright

from services.reporting.app import ReportingApp
from shared.eventstore import EventStore
from shared.hosting import hosted
from shared.refdata import provinces
from shared.settings import Settings, load_settings
from tests.integration.registry.conftest import registry, start_registry  # noqa: F401  # fixtures
from tests.integration.reporting.campaign import generate
from tests.integration.reporting.conftest import publish
from tests.support.waiting import eventually

CHROMIUM = os.environ.get("VHUB_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"no Chromium binary at {CHROMIUM} (apt-get install chromium; .ci/run installs it)",
)
PROVINCE_COLUMNS = ["active_teams", "active_volunteers", "check_ins", "people_supported"]


@pytest.fixture
async def reporting(provisioned: Settings, tmp_path: Path, store: EventStore) -> AsyncIterator[ReportingApp]:
    """Reporting on SQLite with a generated campaign projected (so every panel has figures), one
    of its closed days restated by a late report."""
    settings = load_settings(
        **{
            **provisioned.model_dump(),
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}",
            "http_port": 0,
        }
    )
    async with hosted(settings, "reporting", ReportingApp) as svc:
        log = generate(settings.hub, volunteers=120, teams=12, days=4, late_reports=1)
        last = await publish(store, log)

        async def caught_up() -> bool:
            return (await svc.store.position()).position >= last

        await eventually(caught_up, "projection caught up", 30)
        yield svc


async def shown(page: Page) -> dict[str, Any]:
    """What the page shows: the campaign cards, the province table, border counts, operations."""
    result: dict[str, Any] = await page.evaluate(
        """() => ({
        position: Number(document.querySelector('#position').textContent),
        figures: Object.fromEntries([...document.querySelectorAll('[data-figure]')]
            .map(e => [e.dataset.figure, Number(e.textContent)])),
        provinces: Object.fromEntries([...document.querySelectorAll('#provinces tbody tr')]
            .map(r => [r.dataset.code, {name: r.querySelector('th').textContent,
                ...Object.fromEntries([...r.querySelectorAll('[data-col]')]
                    .map(c => [c.dataset.col, Number(c.textContent)]))}])),
        border: ['day', 'week', 'never', 'total']
            .map(k => Number(document.querySelector('#border-' + k).textContent)),
        dead_letters: Number(document.querySelector('#dead-letters').textContent),
        restated_at: document.querySelector('#restated').hidden ? null
            : document.querySelector('#restated-at').textContent,
        restated_provinces: [...document.querySelectorAll('#provinces tbody tr.restated')]
            .map(r => r.dataset.code),
        restated_days: [...document.querySelectorAll('#chart rect.restated')].map(r => r.dataset.day),
        health: [...document.querySelectorAll('#health li')]
            .map(li => [li.dataset.service, li.dataset.hub, li.className, li.textContent]),
        hubs: [...document.querySelectorAll('#freshness tbody tr')]
            .map(tr => [tr.dataset.hub, tr.dataset.source]),
    })"""
    )
    return result


async def expected(http: httpx.AsyncClient, position: int) -> dict[str, Any]:
    """The same figures from the JSON API, at ``position``."""
    at = {"min_position": position}
    summary = (await http.get("/v1/summary", params=at)).json()
    provs = (await http.get("/v1/provinces", params=at)).json()["items"]
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    border = (await http.get("/v1/border-communes", params={**at, "date": today})).json()["items"]
    fresh = (await http.get("/v1/freshness", params=at)).json()
    daily = (await http.get("/v1/daily", params=at)).json()["items"]
    return {
        "position": summary["freshness"]["position"],
        "figures": summary["figures"],
        "provinces": {p["code"]: {"name": p["name"], **{k: p[k] for k in PROVINCE_COLUMNS}} for p in provs},
        "border": [
            sum(1 for r in border if r["covered_day"]),
            sum(1 for r in border if r["covered_week"]),
            sum(1 for r in border if not r["days_covered"]),
            len(border),
        ],
        "dead_letters": fresh["dead_lettered"],
        "restated_at": summary["restated_at"],
        "restated_provinces": [p["code"] for p in provs if p["restated_at"]],
        "restated_days": [d["day"] for d in daily if d["restated_at"]],
    }


async def refreshed_to(page: Page, position: int) -> None:
    """Wait (bounded) until the page's own refresh has shown ``position``."""
    await page.wait_for_function(
        f"() => Number(document.body.dataset.position) >= {position}", timeout=60_000
    )


@pytest.mark.usefixtures("registry")
async def test_dashboard_shows_the_api_figures_and_follows_new_commands(
    reporting: ReportingApp, nc: Client, tmp_path: Path
) -> None:
    """Given a projected campaign, the dashboard shows exactly the API's figures with Vietnamese
    names, and marks the restated campaign figures, province and day as the API does; when new
    commands are accepted, it shows the new figures without a reload; it reads on a phone-sized
    screen too (screenshots in the test's tmp dir)."""
    base = f"http://127.0.0.1:{reporting.server.port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as http, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        await page.goto(f"{base}/?refresh=0.5")
        before = await expected(http, (await reporting.store.position()).position)
        await refreshed_to(page, before["position"])
        seen = await shown(page)
        _same(seen, before)
        assert seen["provinces"]["01"]["name"] == provinces()["01"].name == "Thành phố Hà Nội"
        assert seen["hubs"] == [[reporting.settings.hub, "local"]]  # a hub's own reporting
        await _health_shown(page, http)
        assert sum(before["figures"].values()) > 0
        assert before["restated_at"]
        assert len(before["restated_provinces"]) == 1  # the late report's
        assert before["restated_days"] == ["2025-07-01"]

        version = 0
        for i in range(3):
            reply = await _command(nc, "register_volunteer", _volunteer(i))
            version = max(version, reply["version"])
        team = await _command(nc, "form_team", TEAM)
        version = max(version, team["version"])

        async def projected() -> bool:
            return bool((await reporting.store.position()).position >= version)

        await eventually(projected, f"reporting at {version}", 30)
        after = await expected(http, version)
        assert after["figures"] != before["figures"] or after["provinces"] != before["provinces"]
        await refreshed_to(page, after["position"])
        seen = await shown(page)
        _same(seen, after)
        await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

        phone = await browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        await phone.goto(f"{base}/")
        await refreshed_to(phone, after["position"])
        width = await phone.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, "the page scrolls sideways on a phone"
        await phone.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)
        docs = await browser.new_page()
        await docs.goto(f"{base}/docs")
        await docs.wait_for_selector(".swagger-ui .opblock", timeout=60_000)  # served locally
        await browser.close()
        assert errors == []
    print(f"screenshots: {tmp_path / 'dashboard.png'} {tmp_path / 'dashboard-phone.png'}")


async def _health_shown(page: Page, http: httpx.AsyncClient) -> None:
    """Service health comes from $SRV (GET /services): registry and reporting answer at this
    hub and are healthy, dispatch (not running here) is unhealthy with its reason; the page
    lists exactly those rows."""
    hub = (await http.get("/v1/freshness")).json()["hubs"][0]["hub"]

    async def surveyed() -> bool:  # a survey after the campaign was projected (every 5 s)
        items = (await http.get("/services")).json()["items"]
        healthy = {(r["service"], r["hub"]) for r in items if r["healthy"]}
        return healthy >= {("registry", hub), ("reporting", hub)}

    await eventually(surveyed, "registry and reporting answer $SRV.STATS, healthy", 30)
    items = (await http.get("/services")).json()["items"]
    by_service = {r["service"]: r for r in items}
    assert by_service["registry"]["healthy"]
    assert by_service["reporting"]["healthy"]
    assert not by_service["dispatch"]["healthy"]
    assert by_service["dispatch"]["reason"] == "no instance answers"
    rows = [[r["service"], r["hub"], "ok" if r["healthy"] else "bad"] for r in items]
    await page.wait_for_function(  # the page's own refresh shows the same rows
        """(rows) => JSON.stringify([...document.querySelectorAll('#health li')]
            .map(li => [li.dataset.service, li.dataset.hub, li.className])) === JSON.stringify(rows)""",
        arg=rows,
        timeout=60_000,
    )
    shown_rows = (await shown(page))["health"]
    assert [row[:3] for row in shown_rows] == rows
    assert "no instance answers" in shown_rows[[r[0] for r in rows].index("dispatch")][3]


def _same(seen: dict[str, Any], wanted: dict[str, Any]) -> None:
    """The page shows ``wanted``; on a difference, say which province rows differ."""
    rows = {c: (seen["provinces"].get(c), w) for c, w in wanted["provinces"].items()}
    assert {c: pair for c, pair in rows.items() if pair[0] != pair[1]} == {}
    assert {k: seen[k] for k in wanted} == wanted


TEAM = {
    "name": "Đội hình số Hoàn Kiếm",
    "province_code": "01",
    "commune_code": "00070",
    "focus": "digital_skills",
    "organisation": "Đoàn phường Hoàn Kiếm",
}


def _volunteer(i: int) -> dict[str, Any]:
    return {
        "full_name": f"Nguyễn Thị Lan {i}",
        "phone": f"0912{i:06d}",
        "birth_date": "2001-05-06",
        "province_code": "01",
        "commune_code": "00070",
        "affiliation": "youth_union",
        "skills": [],
        "consent": True,
    }


async def _command(nc: Client, name: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await nc.request(f"vhub.cmd.registry.{name}", json.dumps(body).encode(), timeout=10)
    answer: dict[str, Any] = json.loads(reply.data)
    assert answer["accepted"], answer
    return answer
