"""The scenarios: ``launch-week`` (1–6 July 2025, as reported) and ``campaign`` (July–August).

Both are pure: the same (scenario, scale, seed, run id) always gives the same plan and truth.
Volunteer figures are counted where the volunteer lives, team figures where the team is based, and
field figures (dispatches, check-ins, people supported …) where the service point is.
"""

from __future__ import annotations

from datetime import date, time, timedelta

from shared.refdata import communes_of, provinces
from vhub.simulate.assemble import assemble
from vhub.simulate.builder import Builder, Point, Shift, Team
from vhub.simulate.model import Plan, Step

HUBS = {
    "hn": "01",
    "hcm": "79",
    "ct": "92",
    "dn": "48",
    "hp": "31",
    "qn": "22",
    "ag": "91",
    "tn": "19",
    "cb": "04",
}
# Provinces on the land border (after the 2025 merger); 13 communes each makes the 286.
BORDER_PROVINCES = (
    "04",
    "08",
    "11",
    "12",
    "14",
    "15",
    "20",
    "22",
    "38",
    "40",
    "42",
    "44",
    "46",
    "48",
    "51",
    "52",
    "66",
    "68",
    "75",
    "80",
    "82",
    "91",
)
HANOI, HCMC, LAM_DONG = "01", "79", "68"
PSY_ORG = "Đoàn Thanh niên Công an nhân dân"
MORNING, NOON, AFTERNOON, EVENING = time(8), time(11, 30), time(13, 30), time(17)
SCENARIOS = ("launch-week", "campaign")


def build_plan(scenario: str, *, scale: float = 1.0, seed: int = 2025, run_id: str | None = None) -> Plan:
    """The plan of ``scenario``. ``run_id`` prefixes every command id and picks the phones."""
    run = run_id or f"{scenario.replace('-', '')}{seed}"
    if scenario == "launch-week":
        return launch_week(seed, run)
    if scenario == "campaign":
        return campaign(scale, seed, run)
    raise ValueError(f"unknown scenario {scenario!r}: one of {', '.join(SCENARIOS)}")


def border_communes(b: Builder) -> list[str]:
    codes = sorted(c.code for p in BORDER_PROVINCES for c in b.rng.sample(communes_of(p), 13))
    b.step(
        "border communes",
        Step("registry", "designate_border_communes", {"commune_codes": codes}, f"{b.run}-border"),
    )
    b.truth.border_communes = set(codes)
    return codes


def report(
    b: Builder,
    s: Shift,
    *,
    people: tuple[int, int],
    sessions: tuple[int, int] = (0, 0),
    attendees: tuple[int, int] = (0, 0),
    elderly: tuple[float, float] = (0.0, 0.0),
) -> None:
    """What a team that turned up reports for its shift (within the plausibility bounds)."""
    if s.check_in is None:
        return
    r = b.rng
    held = r.randint(*sessions)
    came = r.randint(*attendees) if held else 0
    s.report = {
        "people_supported": r.randint(*people),
        "businesses_supported": r.randint(0, 6),
        "officials_supported": r.randint(0, 4),
        "online_applications_guided": r.randint(5, 60),
        "digital_sessions_held": held,
        "session_attendees": came,
        "elderly_attendees": int(came * r.uniform(*elderly)),
    }


def implausible(b: Builder, shifts: list[Shift], n: int) -> None:
    """``n`` reports typed with an extra zero: refused, then sent again corrected."""
    reported = [s for s in shifts if s.report is not None]
    for s in b.rng.sample(reported, min(n, len(reported))):
        assert s.report is not None
        s.implausible = {**s.report, "people_supported": s.report["people_supported"] * 10 + 600}


def registry_noise(b: Builder, duplicates: int, resends: int) -> None:
    vols = b.volunteers
    for v in b.rng.sample(vols, min(duplicates, len(vols))):
        b.duplicate_registration("registry noise", v)
    for v in b.rng.sample(vols, min(resends, len(vols))):
        b.resend("registry noise", b.register_step(v) if v.index % 2 or v.team is None else b.member_step(v))


def team_with(
    b: Builder,
    province: str,
    commune: str | None,
    focus: str,
    org: str,
    name: str,
    size: int,
    affiliations: tuple[tuple[str, float], ...],
) -> Team:
    team = b.team("teams", province, commune, focus, org, name)
    names, weights = zip(*affiliations, strict=True)
    for _ in range(size):
        home = commune or b.commune_in(province)
        b.volunteer(province, home, b.rng.choices(names, weights)[0], team)
    return team


def launch_week(seed: int, run: str) -> Plan:
    b = Builder("launch-week", seed, run)
    days = [date(2025, 7, 1) + timedelta(days=n) for n in range(6)]
    border = set(border_communes(b))
    centres = {
        p: b.point(
            "service points",
            p,
            communes_of(p)[0].code,
            "provincial_service_centre",
            f"Trung tâm PVHCC {provinces()[p].name}",
        )
        for p in provinces()
    }
    # Hanoi: 126 teams (one per commune), about 3,760 volunteers, at their commune's one-stop point.
    hanoi = communes_of(HANOI)
    youth = (("youth_union", 0.7), ("student_association", 0.25), ("other", 0.05))
    for i, c in enumerate(hanoi):
        point = b.point("service points", HANOI, c.code, "commune_one_stop", f"Bộ phận một cửa {c.name}")
        focus = ("admin_support", "online_public_services", "digital_skills")[i % 3]
        team = team_with(
            b,
            HANOI,
            c.code,
            focus,
            "Thành đoàn Hà Nội",
            f"Đội hình {c.name}",
            30 if i < 3_760 - 29 * len(hanoi) else 29,
            youth,
        )
        for day in sorted(b.rng.sample(days, 2)):
            start, end = (MORNING, NOON) if b.rng.random() < 0.5 else (AFTERNOON, EVENING)
            s = b.dispatch(team, point, day, start, end)
            b.fate(s, p_no_show=0.05, p_late=0.1)
            report(b, s, people=(15, 60), sessions=(0, 1), attendees=(15, 40), elderly=(0.2, 0.5))
    # Ho Chi Minh City: rotating digital-skills teams teaching older people all week.
    sites = [
        b.point("service points", HCMC, c.code, "community_site", f"Nhà văn hóa {c.name}")
        for c in b.rng.sample(communes_of(HCMC), 15)
    ]
    students = (("student_association", 0.6), ("youth_union", 0.4))
    for i in range(30):
        team = team_with(
            b,
            HCMC,
            None,
            "digital_skills",
            "Thành Đoàn TP. Hồ Chí Minh",
            f"Đội hình Bình dân học vụ số {i + 1}",
            8,
            students,
        )
        for s in b.rotation(
            team, [sites[i % 15], sites[(i + 5) % 15], sites[(i + 10) % 15]], days[0], 6, time(7, 30), NOON
        ):
            b.fate(s, p_no_show=0.02, p_late=0.08)
            report(b, s, people=(30, 80), sessions=(2, 4), attendees=(40, 120), elderly=(0.6, 0.9))
    # Lam Dong: teams at commune one-stop points, more than 24,000 people supported in six days.
    lam_dong = [
        b.point("service points", LAM_DONG, c.code, "commune_one_stop", f"Bộ phận một cửa {c.name}")
        for c in b.rng.sample(communes_of(LAM_DONG), 40)
    ]
    for i in range(50):
        team = team_with(
            b,
            LAM_DONG,
            None,
            "admin_support",
            "Tỉnh đoàn Lâm Đồng",
            f"Đội hình hỗ trợ một cửa {i + 1}",
            6,
            (("youth_union", 1.0),),
        )
        for s in b.rotation(team, [lam_dong[i % 40], lam_dong[(i + 20) % 40]], days[0], 6, MORNING, EVENING):
            b.fate(s, p_no_show=0.03, p_late=0.05)
            report(b, s, people=(80, 110))
    # Public security youth: more than 1,000 teams, 1,600+ sessions, 170,000+ attendees.
    psy_teams: list[Team] = []
    for p in provinces():  # Hanoi's 126 teams are the youth union's: the force is counted elsewhere
        if p == HANOI:
            continue
        for k in range(31):
            psy_teams.append(
                team_with(
                    b,
                    p,
                    None,
                    "digital_skills",
                    PSY_ORG,
                    f"Tổ công tác CAND {p}-{k + 1}",
                    2,
                    (("public_security_youth", 1.0),),
                )
            )
    for team in b.rng.sample(psy_teams, 340):
        s = b.dispatch(team, centres[team.province], b.rng.choice(days), MORNING, NOON)
        b.fate(s, p_no_show=0.0, p_late=0.05)
        report(b, s, people=(20, 60), sessions=(4, 6), attendees=(480, 560), elderly=(0.2, 0.4))
    # The other hubs: a few teams each, border communes first where the hub has them.
    for hub, p in HUBS.items():
        if hub in ("hn", "hcm"):
            continue
        own = [c for c in communes_of(p) if c.code in border] or list(communes_of(p))
        points = [
            b.point("service points", p, c.code, "commune_one_stop", f"Một cửa {c.name}")
            for c in b.rng.sample(own, min(4, len(own)))
        ]
        for i in range(8):
            team = team_with(
                b,
                p,
                None,
                "online_public_services",
                f"Tỉnh đoàn ({hub})",
                f"Đội hình {hub}-{i + 1}",
                6,
                youth,
            )
            for s in b.rotation(team, points, days[i % 3], 3, AFTERNOON, EVENING):
                b.fate(s, p_no_show=0.05, p_late=0.1)
                report(b, s, people=(20, 70))
    registry_noise(b, duplicates=40, resends=60)
    for s in b.rng.sample([s for s in b.shifts if s.check_in is not None], 25):
        b.double_booking("double bookings", s)
    implausible(b, b.shifts, 15)
    plan = assemble(b, "launch-week", 1.0, seed, resend_check_ins=40)
    t = plan.truth
    t.headlines.update(
        {
            "Hanoi teams": t.of(("province", HANOI))["active_teams"],
            "Hanoi volunteers": t.of(("province", HANOI))["active_volunteers"],
            "Lam Dong people supported": t.of(("province", LAM_DONG))["people_supported"],
            "public security youth teams": len(psy_teams),
            "public security youth sessions": sum(
                s.report["digital_sessions_held"] for s in b.shifts if s.report and s.team in psy_teams
            ),
            "public security youth attendees": sum(
                s.report["session_attendees"] for s in b.shifts if s.report and s.team in psy_teams
            ),
        }
    )
    return plan


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
    noisy = max(1, round(n_vols * 0.005))
    registry_noise(b, duplicates=noisy, resends=noisy)
    shown = [s for s in b.shifts if s.check_in is not None]
    for s in b.rng.sample(shown, min(len(shown), max(1, round(len(b.shifts) * 0.002)))):
        b.double_booking("double bookings", s)
    implausible(b, b.shifts, max(1, round(len(b.shifts) * 0.005)))
    return assemble(b, "campaign", scale, seed, resend_check_ins=noisy)
