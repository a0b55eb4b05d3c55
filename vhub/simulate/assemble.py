"""From a builder's entities to the ordered phases of a plan, with the truth counted once.

Inside a phase, commands run concurrently; the ones that write the same aggregate cannot (a
service takes them one at a time per aggregate, and two replicas racing on one lose optimistic-
concurrency rounds). So the phases whose commands cluster on a few aggregates (a team's members,
its dispatches and shifts, all on the team's subject) are sent spread out: each team's first
command, then each team's second, and so on. Same commands, same truth, another order.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

from vhub.simulate.builder import Builder
from vhub.simulate.entities import Shift, count_shift, shift_steps
from vhub.simulate.model import Plan, Step

T = TypeVar("T")

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
    members = spread((v for v in vols if v.team is not None), lambda v: v.team.key if v.team else "")
    led = [t for t in teams.values() if t.members]
    by_key = {v.key: v for v in members}
    orders = spread(b.orders, lambda o: o.team.key)
    shifts = spread(b.shifts, _team_of)
    lazy = {
        "volunteers": (len(vols), lambda: (b.register_step(v) for v in vols)),
        "memberships": (len(members), lambda: (b.member_step(v) for v in members)),
        "leaders": (len(led), lambda: (b.leader_step(t, by_key[t.members[0]]) for t in led)),
        "dispatches": (len(orders), lambda: (o.step() for o in orders)),
    }
    for phase, which in SHIFT_PHASES.items():
        size = sum(1 for s in shifts if shift_steps(s, which) is not None)
        lazy[phase] = (
            size,
            lambda w=which: (  # type: ignore[misc]
                st for st in (shift_steps(s, w) for s in shifts) if st is not None
            ),
        )
    return Plan(scenario, scale, seed, b.freeze(ORDER, lazy), b.truth)


def spread(items: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
    """``items`` round-robin over ``key``: every key's first item, then every key's second, ...
    (each key's items keep their order; stable, so the plan stays deterministic)."""
    seen: dict[Hashable, int] = {}
    ranked = []
    for n, item in enumerate(items):
        k = key(item)
        rank = seen[k] = seen.get(k, -1) + 1
        ranked.append((rank, n, item))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [item for _, _, item in ranked]


def _team_of(s: Shift) -> str:
    return s.team.key
