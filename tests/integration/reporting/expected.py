"""Every figure folded straight from the events, written independently of the projection:
entity figures come from the final state, counted figures from a plain walk over the log."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

from services.reporting.models import FIGURES
from shared.envelope import Envelope
from shared.upcast import decode

ACTIVITY = (
    "people_supported",
    "businesses_supported",
    "officials_supported",
    "online_applications_guided",
    "digital_sessions_held",
    "session_attendees",
    "elderly_attendees",
)


def expected_view(log: list[tuple[str, Envelope]], provinces: list[str], days: list[date]) -> dict[str, Any]:
    vols: dict[str, dict[str, Any]] = {}
    teams: dict[str, dict[str, Any]] = {}
    members: set[tuple[str, str]] = set()
    counted: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)  # (level, code)
    daily: dict[tuple[str, date], Counter[str]] = defaultdict(Counter)  # (scope, day)
    seen_day: set[tuple[str, date, str]] = set()
    coverage: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    dups: dict[str, set[str]] = {}
    border: set[str] = set()
    checkin_days: dict[str, set[date]] = defaultdict(set)
    for _, env in log:
        e, t = decode(env).model_dump(), env.event_type.split(".")[1]
        if t == "volunteer_registered":
            vols[e["volunteer_id"]] = {k: e[k] for k in ("province_code", "commune_code", "affiliation")} | {
                "active": True
            }
        elif t == "volunteer_updated":
            vols[e["volunteer_id"]].update(
                {k: e[k] for k in ("province_code", "commune_code", "affiliation") if e[k]}
            )
        elif t == "volunteer_withdrawn":
            vols[e["volunteer_id"]]["active"] = False
        elif t == "possible_duplicate_flagged":
            dups.setdefault(e["volunteer_id"], set()).update(e["duplicate_of"])
        elif t == "border_communes_designated":
            border.update(e["commune_codes"])
        elif t == "team_formed":
            teams[e["team_id"]] = {
                "province_code": e["province_code"],
                "commune_code": e["commune_code"],
                "focus": e["focus"],
                "organisation": e["organisation"],
                "active": True,
                "dispatches": 0,
                "check_ins": 0,
                "no_shows": 0,
                "people_supported": 0,
            }
        elif t == "team_disbanded":
            teams[e["team_id"]]["active"] = False
        elif t in ("volunteer_joined_team", "team_member_added"):
            members.add((e["team_id"], e["volunteer_id"]))
        elif t in ("volunteer_left_team", "team_member_removed"):
            members.discard((e["team_id"], e["volunteer_id"]))
        elif t == "team_rotation_planned":  # a shift a day: each a dispatch
            for one in e["shifts"]:
                dispatched = {**one, "team_id": e["team_id"]}
                _shift(
                    "team_dispatched",
                    dispatched,
                    counted,
                    daily,
                    seen_day,
                    coverage,
                    teams,
                    members,
                    checkin_days,
                )
        elif "date" in e and "service_point_id" in e:
            _shift(t, e, counted, daily, seen_day, coverage, teams, members, checkin_days)
    for v in vols.values():
        if v["active"]:
            for area in _areas(v["province_code"], v["commune_code"]):
                counted[area]["active_volunteers"] += 1
                counted[area]["aff:" + v["affiliation"]] += 1
    for tm in teams.values():
        if tm["active"]:
            for area in _areas(tm["province_code"], tm["commune_code"]):
                counted[area]["active_teams"] += 1
                counted[area]["focus:" + tm["focus"]] += 1
    for tid, tm in teams.items():
        tm["members"] = sum(1 for (t2, _) in members if t2 == tid)

    def figs(c: Counter[str]) -> dict[str, int]:
        return {k: c[k] for k in FIGURES}

    def detail(area: tuple[str, str]) -> dict[str, Any]:
        c = counted[area]
        return {
            "figures": figs(c),
            "teams_by_focus": {k[6:]: n for k, n in c.items() if k[:6] == "focus:" and n},
            "volunteers_by_affiliation": {k[4:]: n for k, n in c.items() if k[:4] == "aff:" and n},
        }

    from shared.refdata import communes_of
    from shared.refdata import provinces as all_provinces

    return {
        "summary": detail(("campaign", ""))
        | {"border_communes": len(border), "possible_duplicates": len(dups)},
        "provinces": {p: figs(counted[("province", p)]) for p in all_provinces()},
        "province_detail": {p: detail(("province", p)) for p in provinces},
        "communes": {c.code: figs(counted[("commune", c.code)]) for p in provinces for c in communes_of(p)},
        "daily": {
            scope: {
                str(day): figs(c)
                for (s, day), c in sorted(daily.items(), key=lambda kv: kv[0][1])
                if s == scope and any(figs(c).values())
            }
            for scope in ["", *provinces]
        },
        "teams": {
            tid: {
                k: tm[k]
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
            for tid, tm in teams.items()
        },
        "coverage": {
            f"{day}/{sp}": {k: n for k, n in c.items() if n}
            for (day, sp), c in coverage.items()
            if any(c.values())
        },
        "duplicates": {vid: ",".join(sorted(ids)) for vid, ids in dups.items()},
        "border": {str(day): {c: _border_row(checkin_days[c], day) for c in sorted(border)} for day in days},
    }


def _areas(province: str, commune: str | None) -> list[tuple[str, str]]:
    return [("campaign", ""), ("province", province)] + ([("commune", commune)] if commune else [])


def _shift(
    t: str,
    e: dict[str, Any],
    counted: Any,
    daily: Any,
    seen_day: Any,
    coverage: Any,
    teams: dict[str, dict[str, Any]],
    members: set[tuple[str, str]],
    checkin_days: dict[str, set[date]],
) -> None:
    day, prov, commune = e["date"], e["province_code"], e["commune_code"]
    cov = coverage[(str(day), e["service_point_id"])]
    bumps: Counter[str] = Counter()
    team = teams.get(e.get("team_id") or "")
    if t == "coverage_requested":
        cov["requested"] += e["teams_needed"]
    elif t in ("team_dispatched", "dispatch_cancelled"):
        n = 1 if t == "team_dispatched" else -1
        bumps["dispatches"] += n
        cov["dispatched"] += n
        if team:
            team["dispatches"] += n
    elif t == "team_checked_in":
        bumps["check_ins"] += 1
        cov["check_ins"] += 1
        checkin_days[commune].add(day)
        if team:
            team["check_ins"] += 1
        for scope in ("", prov):
            if (scope, day, e["team_id"]) not in seen_day:
                seen_day.add((scope, day, e["team_id"]))
                daily[(scope, day)]["active_teams"] += 1
                daily[(scope, day)]["active_volunteers"] += sum(
                    1 for (tid, _) in members if tid == e["team_id"]
                )
    elif t in ("dispatch_marked_no_show", "no_show_withdrawn"):
        n = 1 if t == "dispatch_marked_no_show" else -1
        bumps["no_shows"] += n
        if team:
            team["no_shows"] += n
    elif t == "activity_reported":
        bumps.update({k: e[k] for k in ACTIVITY})
        bumps["activity_reports"] += 1
        if team:
            team["people_supported"] += e["people_supported"]
    elif t == "field_report_corrected":
        bumps.update(e["change"])
        if team:
            team["people_supported"] += e["change"].get("people_supported", 0)
    elif t == "over_capacity_recorded":
        bumps["over_capacity"] += 1
        cov["over_capacity"] += 1
    for area in _areas(prov, commune):
        counted[area].update(bumps)
    for scope in ("", prov):
        daily[(scope, day)].update(bumps)


def _border_row(seen: set[date], on: date) -> tuple[bool, bool, int]:
    upto = {d for d in seen if d <= on}
    return (on in upto, any(on - timedelta(days=6) <= d for d in upto), len(upto))
