"""The operators' dashboard at ``/`` and the API docs at ``/docs``, both without internet.

The page is rendered here from one snapshot (the same figures the JSON API answers with), then
``static/dashboard.js`` refreshes it from the API by itself. Swagger UI (5.x, which reads
OpenAPI 3.1) comes from the ``swagger-ui-py`` package, served from this process: no CDN (many
provincial offices and these machines have no internet).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from pathlib import Path
from string import Template
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import swagger_ui
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from services.reporting import models as m
from services.reporting.health import ServiceHealth
from services.reporting.queries import Snapshot
from services.reporting.restatements import marks
from services.reporting.routers.common import ReadsDep
from shared.refdata import communes, provinces

HERE = Path(__file__).parent
PAGE = Template((HERE / "templates" / "dashboard.html").read_text(encoding="utf-8"))
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# The figures on the cards, in Vietnamese (English beside): the order operators read them in.
LABELS = {
    "active_volunteers": ("Tình nguyện viên", "active volunteers"),
    "active_teams": ("Đội hình", "active teams"),
    "dispatches": ("Lượt điều động", "dispatches"),
    "check_ins": ("Lượt có mặt", "check-ins"),
    "no_shows": ("Vắng mặt", "no-shows"),
    "people_supported": ("Người dân được hỗ trợ", "people supported"),
    "businesses_supported": ("Doanh nghiệp được hỗ trợ", "businesses supported"),
    "officials_supported": ("Cán bộ được hỗ trợ", "officials supported"),
    "online_applications_guided": ("Hồ sơ trực tuyến được hướng dẫn", "online applications guided"),
    "digital_sessions_held": ("Buổi hướng dẫn kỹ năng số", "digital sessions"),
    "session_attendees": ("Người tham dự", "session attendees"),
    "elderly_attendees": ("Người cao tuổi tham dự", "elderly attendees"),
    "activity_reports": ("Báo cáo hoạt động", "activity reports"),
    "over_capacity": ("Vượt công suất", "over capacity"),
}
assert set(LABELS) == set(m.FIGURES)
PROVINCE_COLUMNS = {
    "active_teams": "Đội hình",
    "active_volunteers": "Tình nguyện viên",
    "check_ins": "Lượt có mặt",
    "people_supported": "Người dân được hỗ trợ",
}
HEALTH_NOTE = (
    "Tình trạng dịch vụ (service health): every vhub instance at every hub that answers service "
    "discovery ($SRV.STATS, as `vhub status` shows it); a service with no instance is listed too."
)

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    reads: ReadsDep,
    refresh_s: Annotated[float, Query(alias="refresh", ge=0.5, le=3600)] = 10,
) -> HTMLResponse:
    """The dashboard, rendered from one snapshot; it refreshes itself every ``refresh`` seconds."""
    today = datetime.now(LOCAL_TZ).date()
    async with reads.read.snapshot() as snap:
        figures = (await snap.figures("campaign", [""])).get("", dict.fromkeys(m.FIGURES, 0))
        per_province = await snap.figures("province")
        codes = sorted(provinces())
        restated = {**await marks(snap, "campaign", [""]), **await marks(snap, "province", codes)}
        border = await snap.rows(snap.border(today, None))
        counters = await snap.counters(reads.read.projection)
        hub_rows = await snap.hub_rows()
        hubs = await reads.hubs(snap)
    return HTMLResponse(
        PAGE.substitute(
            refresh_ms=int(refresh_s * 1000),
            hub=escape(reads.hub),
            rendered_at=datetime.now(LOCAL_TZ).strftime("%H:%M:%S"),
            cards="".join(_card(name, figures[name]) for name in LABELS),
            province_heads="".join(f"<th>{escape(t)}</th>" for t in PROVINCE_COLUMNS.values()),
            province_rows=_province_rows(per_province, restated),
            **_restated(restated[""]),
            border_date=today.isoformat(),
            **_border(border),
            **_freshness(snap, hubs, {h: r["events_applied"] for h, r in hub_rows.items()}),
            dead_letters=counters["dead_lettered"],
            health_items=_health(request.app.state.health),
            health_note=escape(HEALTH_NOTE),
        )
    )


@router.get("/docs", response_class=HTMLResponse)
async def docs() -> HTMLResponse:
    """Swagger UI over /openapi.json, from local files."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="vhub reporting API",
        swagger_js_url="/docs-assets/swagger-ui-bundle.js",
        swagger_css_url="/docs-assets/swagger-ui.css",
        swagger_favicon_url="/docs-assets/favicon-32x32.png",
    )


def mount(app: FastAPI) -> None:
    """The dashboard, its static files and the docs' assets on ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    assets = Path(swagger_ui.__file__).parent / "static"
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")


def _card(name: str, value: int) -> str:
    vi, en = LABELS[name]
    return (
        f'<div><dt>{escape(vi)} <small>{escape(en)}</small></dt><dd data-figure="{name}">{value}</dd></div>'
    )


def _province_rows(per_province: dict[str, dict[str, int]], restated: dict[str, Any]) -> str:
    out = []
    for p in sorted(provinces().values(), key=lambda p: p.code):
        row = per_province.get(p.code, {})
        cells = "".join(f'<td data-col="{k}">{row.get(k, 0)}</td>' for k in PROVINCE_COLUMNS)
        at = restated[p.code]["restated_at"]
        mark = f' class="restated" data-restated-at="{escape(at)}"' if at else ""
        out.append(f'<tr data-code="{p.code}"{mark}><th scope="row">{escape(p.name)}</th>{cells}</tr>')
    return "".join(out)


def _restated(campaign: dict[str, Any]) -> dict[str, object]:
    """The campaign's restated mark: when its figures were last restated (hidden when never)."""
    at = campaign["restated_at"]
    return {"restated_at": escape(at or "—"), "restated_hidden": "" if at else " hidden"}


def _border(rows: list[dict[str, object]]) -> dict[str, object]:
    never = [r for r in rows if not r["days_covered"]]
    names = [communes()[str(r["commune_code"])].name for r in never if str(r["commune_code"]) in communes()]
    return {
        "border_day": sum(1 for r in rows if r["covered_day"]),
        "border_week": sum(1 for r in rows if r["covered_week"]),
        "border_never": len(never),
        "border_total": len(rows),
        "border_never_names": escape(", ".join(names)) or "—",
    }


def _freshness(snap: Snapshot, hubs: list[dict[str, object]], applied: dict[str, int]) -> dict[str, object]:
    f = snap.freshness
    at = f.last_event_at.isoformat() if f.last_event_at else "—"
    rows = "".join(
        f'<tr data-hub="{escape(str(h["hub"]))}" data-source="{escape(str(h["source"]))}">'
        f'<th scope="row">{escape(str(h["hub"]))}</th>'
        f"<td>{h['position']}</td><td><time>{escape(str(h['last_event_at'] or '—'))}</time></td>"
        f"<td>{'—' if h['lag'] is None else h['lag']}</td><td>{escape(str(h['source']))}</td>"
        f"<td>{applied.get(str(h['hub']), 0)}</td></tr>"
        for h in hubs
    )
    return {"position": f.position, "last_event_at": escape(at), "freshness_rows": rows}


def _health(health: ServiceHealth | None) -> str:
    """The service rows as list items (static/dashboard.js words them the same way)."""
    if health is None or not health.rows:
        return '<li class="bad">chưa có số liệu (no $SRV survey yet)</li>'
    out = []
    for r in health.rows:
        state = "sẵn sàng (healthy)" if r.healthy else f"không sẵn sàng (unhealthy): {r.reason}"
        lag = "—" if r.lag is None else r.lag
        dead = "—" if r.dead_letters is None else r.dead_letters
        out.append(
            f'<li class="{"ok" if r.healthy else "bad"}" data-service="{escape(r.service)}" '
            f'data-hub="{escape(r.hub)}">{escape(r.service)} @ {escape(r.hub)} #{escape(r.instance)}: '
            f"{escape(state)} · lag {lag} · dead letters {dead}</li>"
        )
    return "".join(out)
