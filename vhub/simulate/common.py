"""What both scenarios share: hubs, border provinces, and the small stories (a team with its
volunteers, a field report, noise) they are told with. Pure."""

from __future__ import annotations

from datetime import time

from shared.refdata import communes_of
from vhub.simulate.builder import Builder
from vhub.simulate.entities import Shift, Team
from vhub.simulate.model import Step

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
