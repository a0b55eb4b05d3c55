"""The ground-truth table: equal readings are ok row by row, and any difference is named."""

from __future__ import annotations

from collections import Counter

import pytest

from shared.refdata import provinces
from vhub.simulate import build_plan
from vhub.simulate.check import Reading, compare
from vhub.simulate.model import CAMPAIGN, Noise, Plan


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build_plan("campaign", scale=0.005, seed=9)


def reading_of(plan: Plan) -> Reading:
    """What a perfect reporting API would answer for ``plan``."""
    t = plan.truth
    designated = len(t.border_communes)
    return Reading(
        position=1,
        summary=Counter(t.of(CAMPAIGN)),
        focus=Counter(t.teams_by_focus),
        affiliation=Counter(t.volunteers_by_affiliation),
        provinces={p: Counter(t.of(("province", p))) for p in provinces()},
        border_designated=designated,
        border_never=designated - len(t.border_communes_covered),
    )


def test_a_perfect_reading_is_ok_everywhere(plan: Plan) -> None:
    rows = compare(plan.truth, reading_of(plan), Counter(plan.truth.noise), unexpected=0)
    assert [r.figure for r in rows if not r.ok] == []


def test_one_wrong_province_cell_is_named(plan: Plan) -> None:
    """Given a reading with one province figure off by one, then the province row says which."""
    seen = reading_of(plan)
    code = next(p for p in provinces() if plan.truth.of(("province", p))["dispatches"])
    seen.provinces[code]["dispatches"] += 1
    rows = {r.figure: r for r in compare(plan.truth, seen, Counter(plan.truth.noise), 0)}
    province_row = next(r for f, r in rows.items() if f.startswith("province figures"))
    assert not province_row.ok
    assert f"{code}.dispatches" in province_row.note


def test_noise_not_seen_and_surprises_fail(plan: Plan) -> None:
    noise = Counter(plan.truth.noise)
    noise[Noise.DOUBLE_BOOKING] -= 1
    rows = {r.figure: r for r in compare(plan.truth, reading_of(plan), noise, unexpected=2)}
    assert not rows["noise: double-booking attempts"].ok
    assert not rows["unexpected replies"].ok


def test_a_reading_minus_the_one_before_is_the_change() -> None:
    before = Reading(5, Counter(dispatches=3), Counter(), Counter(), {"01": Counter(no_shows=1)}, 10, 4)
    after = Reading(9, Counter(dispatches=7), Counter(), Counter(), {"01": Counter(no_shows=3)}, 10, 2)
    delta = after.minus(before)
    assert delta.summary["dispatches"] == 4
    assert delta.provinces["01"]["no_shows"] == 2
    assert delta.border_designated - delta.border_never == 2  # two more communes covered
