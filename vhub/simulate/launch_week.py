"""``launch-week``: the first six days of July 2025, as reported. Pure."""

from __future__ import annotations

from datetime import date, time, timedelta

from shared.refdata import communes_of, provinces
from vhub.simulate.assemble import assemble
from vhub.simulate.builder import Builder
from vhub.simulate.common import (
    AFTERNOON,
    EVENING,
    HANOI,
    HCMC,
    HUBS,
    LAM_DONG,
    MORNING,
    NOON,
    PSY_ORG,
    border_communes,
    implausible,
    registry_noise,
    report,
    team_with,
)
from vhub.simulate.entities import Team
from vhub.simulate.model import Plan


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
            s = b.dispatch(team, point, day, start, end, request=b.request(point, day, start, end, 1, focus))
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
        centre, day = centres[team.province], b.rng.choice(days)
        asked = b.one_more_team(centre, day, MORNING, NOON, "digital_skills")  # the centre asked for it
        s = b.dispatch(team, centre, day, MORNING, NOON, request=asked)
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
        # The provincial centre's training morning asks for more teams than are free, and the same
        # points ask for two teams every morning: nobody answered those (what-if replays do).
        b.request(centres[p], days[2], MORNING, NOON, 34, "digital_skills")
        for day in days:
            for point in points:
                b.request(point, day, MORNING, NOON, 2, "online_public_services")
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
