"""``campaign``: the whole of July and August at a scale (1.0 ≈ 100,000 volunteers). Pure."""

from __future__ import annotations

from datetime import date, timedelta

from shared.refdata import communes_of, provinces
from vhub.simulate.assemble import assemble
from vhub.simulate.builder import Builder
from vhub.simulate.common import (
    EVENING,
    MORNING,
    NOON,
    border_communes,
    implausible,
    registry_noise,
    report,
    team_with,
)
from vhub.simulate.entities import Point, Team
from vhub.simulate.model import Plan


def campaign(scale: float, seed: int, run: str) -> Plan:
    """July and August: scale 1.0 ≈ 100,000 volunteers, 3,500 teams, 3,321 one-stop points."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    b = Builder("campaign", seed, run)
    border_communes(b)
    first, last = date(2025, 7, 1), date(2025, 8, 31)
    everywhere = sorted((c for p in provinces() for c in communes_of(p)), key=lambda c: c.code)
    n_points = max(34, round(3_321 * scale))
    stride = len(everywhere) / n_points
    chosen = [everywhere[int(i * stride)] for i in range(n_points)]
    points: dict[str, list[Point]] = {}
    for c in chosen:
        points.setdefault(c.province_code, []).append(
            b.point("service points", c.province_code, c.code, "commune_one_stop", f"Một cửa {c.name}")
        )
    n_teams, n_vols = max(34, round(3_500 * scale)), max(68, round(100_000 * scale))
    weights = [len(points.get(p, [])) for p in provinces()]
    youth = (
        ("youth_union", 0.55),
        ("student_association", 0.3),
        ("public_security_youth", 0.1),
        ("other", 0.05),
    )
    focuses = ("admin_support", "online_public_services", "digital_skills")
    teams = []
    for i in range(n_teams):
        p = b.rng.choices(list(provinces()), weights)[0]
        size = n_vols // n_teams + (1 if i < n_vols % n_teams else 0)
        teams.append(
            team_with(b, p, None, b.rng.choice(focuses), f"Tỉnh đoàn {p}", f"Đội hình {i + 1}", size, youth)
        )
    for i, team in enumerate(teams):
        own = points[team.province]
        for week in range(9):
            start = first + timedelta(days=7 * week + i % 4)
            n_days = min(3, (last - start).days + 1)
            if n_days < 1:
                continue
            route = [own[(i + k) % len(own)] for k in range(min(3, len(own)))]
            for s in b.rotation(team, route, start, n_days, MORNING, EVENING):
                b.fate(s, p_no_show=0.04, p_late=0.08)
                report(b, s, people=(10, 80), sessions=(0, 3), attendees=(10, 60), elderly=(0.1, 0.6))
    requests_answered(b, points, teams, first)
    noisy = max(1, round(n_vols * 0.005))
    registry_noise(b, duplicates=noisy, resends=noisy)
    shown = [s for s in b.shifts if s.check_in is not None]
    for s in b.rng.sample(shown, min(len(shown), max(1, round(len(b.shifts) * 0.002)))):
        b.double_booking("double bookings", s)
    implausible(b, b.shifts, max(1, round(len(b.shifts) * 0.005)))
    return assemble(b, "campaign", scale, seed, resend_check_ins=noisy)


def requests_answered(b: Builder, points: dict[str, list[Point]], teams: list[Team], first: date) -> None:
    """Four weeks of morning coverage requests, one a week per point; a free team of the province
    answers three in four (one team where two were asked for)."""
    of: dict[str, list[Team]] = {}
    for t in teams:
        of.setdefault(t.province, []).append(t)
    flat = [p for ps in points.values() for p in ps]
    for week in range(4):
        for n, point in enumerate(flat):
            day = first + timedelta(days=7 * week + n % 7)
            asked = b.request(point, day, MORNING, NOON, 2 if n % 5 == 0 else 1)
            mine = of.get(point.province, [])
            pick = next(
                (
                    t
                    for k in range(len(mine))
                    if b.free(t := mine[(week + n + k) % len(mine)], day, MORNING, NOON)
                ),
                None,
            )
            if pick is None or n % 4 == 3:
                continue
            s = b.dispatch(pick, point, day, MORNING, NOON, request=asked)
            b.fate(s, p_no_show=0.04, p_late=0.08)
            report(b, s, people=(10, 80), sessions=(0, 3), attendees=(10, 60), elderly=(0.1, 0.6))
