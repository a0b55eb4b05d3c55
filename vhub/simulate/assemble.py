"""From a builder's entities to the ordered phases of a plan, with the truth counted once."""

from __future__ import annotations

from vhub.simulate.builder import Builder
from vhub.simulate.entities import count_shift, shift_steps
from vhub.simulate.model import Plan, Step

ORDER = [
    "border communes",
    "service points",
    "teams",
    "volunteers",
    "memberships",
    "leaders",
    "registry noise",
    "coverage requests",
    "dispatches",
    "double bookings",
    "check-ins",
    "check-outs",
    "reports",
    "corrected reports",
    "close days",
    "dispatch noise",
]
SHIFT_PHASES = {
    "check-ins": "check_in",
    "check-outs": "check_out",
    "reports": "report",
    "corrected reports": "report_fix",
}


def assemble(b: Builder, scenario: str, scale: float, seed: int, resend_check_ins: int = 0) -> Plan:
    """Close every day that has shifts, count the truth, and order the phases."""
    for day in sorted({s.day for s in b.shifts}):
        b.step(
            "close days",
            Step("dispatch", "close_day", {"date": day.isoformat()}, f"{b.run}-close-{day:%Y%m%d}"),
        )
    for s in b.shifts:
        count_shift(b.truth, s)
    checked_in = [s for s in b.shifts if s.check_in is not None]
    for s in b.rng.sample(checked_in, min(resend_check_ins, len(checked_in))):
        step = shift_steps(s, "check_in")
        assert step is not None
        b.resend("dispatch noise", step)
    vols, teams = b.volunteers, {v.team.key: v.team for v in b.volunteers if v.team}
    members = [v for v in vols if v.team is not None]
    led = [t for t in teams.values() if t.members]
    by_key = {v.key: v for v in members}
    lazy = {
        "volunteers": (len(vols), lambda: (b.register_step(v) for v in vols)),
        "memberships": (len(members), lambda: (b.member_step(v) for v in members)),
        "leaders": (len(led), lambda: (b.leader_step(t, by_key[t.members[0]]) for t in led)),
        "dispatches": (len(b.orders), lambda: (o.step() for o in b.orders)),
    }
    for phase, which in SHIFT_PHASES.items():
        size = sum(1 for s in b.shifts if shift_steps(s, which) is not None)
        lazy[phase] = (
            size,
            lambda w=which: (  # type: ignore[misc]
                st for st in (shift_steps(s, w) for s in b.shifts) if st is not None
            ),
        )
    return Plan(scenario, scale, seed, b.freeze(ORDER, lazy), b.truth)
