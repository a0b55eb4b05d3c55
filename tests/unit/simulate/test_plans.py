"""The scenario plans are deterministic, well-formed, and promise what issue 5 reports."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from shared.refdata import communes, provinces
from vhub.simulate import build_plan
from vhub.simulate.model import CAMPAIGN, FIGURES, Noise, Plan, Step

ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")  # shared.commands.ID_PATTERN


@pytest.fixture(scope="module")
def launch_week() -> Plan:
    return build_plan("launch-week", seed=7)


@pytest.fixture(scope="module")
def small_campaign() -> Plan:
    return build_plan("campaign", scale=0.01, seed=7)


def _steps(plan: Plan) -> list[Step]:
    return list(plan.steps())


def test_same_seed_same_plan() -> None:
    """Given a scenario and seed, when planned twice, then the commands and truth are identical."""
    a, b = build_plan("campaign", scale=0.005, seed=3), build_plan("campaign", scale=0.005, seed=3)
    assert _steps(a) == _steps(b)
    assert a.truth.figures == b.truth.figures


def test_other_seed_other_plan() -> None:
    """Given two seeds, then the plans differ (the seed matters)."""
    a, b = build_plan("campaign", scale=0.005, seed=3), build_plan("campaign", scale=0.005, seed=4)
    assert _steps(a) != _steps(b)


def test_launch_week_headlines(launch_week: Plan) -> None:
    """The launch week stages the reported figures of 1–6 July 2025."""
    h = launch_week.truth.headlines
    assert h["Hanoi teams"] == 126
    assert 3_700 <= h["Hanoi volunteers"] <= 3_800
    assert h["Lam Dong people supported"] > 24_000
    assert h["public security youth teams"] > 1_000
    assert h["public security youth sessions"] > 1_600
    assert h["public security youth attendees"] > 170_000
    assert launch_week.truth.of(("province", "01"))["active_teams"] == 126


def test_launch_week_stays_small(launch_week: Plan) -> None:
    """The demo plan is tens of thousands of commands, not millions: aggregates, not crowds."""
    assert launch_week.size < 30_000


@pytest.mark.parametrize("name", ["launch_week", "small_campaign"])
def test_every_noise_kind_is_planned(name: str, request: pytest.FixtureRequest) -> None:
    """Each kind of realistic noise occurs at least once and is counted."""
    plan: Plan = request.getfixturevalue(name)
    assert all(plan.truth.noise[k] > 0 for k in Noise)
    steps = _steps(plan)
    tagged = Counter(s.noise for s in steps if s.noise is not None)
    for kind in (
        Noise.DUPLICATE_REGISTRATION,
        Noise.RETRIED_COMMAND,
        Noise.DOUBLE_BOOKING,
        Noise.IMPLAUSIBLE_REPORT,
    ):
        assert tagged[kind] == plan.truth.noise[kind]
    assert plan.truth.noise[Noise.NO_SHOW] == plan.truth.of(CAMPAIGN)["no_shows"]


@pytest.mark.parametrize("name", ["launch_week", "small_campaign"])
def test_refs_point_back_to_earlier_phases(name: str, request: pytest.FixtureRequest) -> None:
    """Every id a command needs is saved by a command of an earlier phase."""
    plan: Plan = request.getfixturevalue(name)
    saved: set[str] = set()
    for phase in plan.phases:
        steps = list(phase.steps())
        assert len(steps) == phase.size
        for step in steps:
            for ref in step.refs():
                base = ref.key.rsplit(".", 1)[0] if ref.key not in saved else ref.key
                assert ref.key in saved or base in saved, (phase.name, step.name, ref)
        saved |= {s.saves for s in steps if s.saves}
        saved |= {f"{s.saves}.{n}" for s in steps if s.saves and s.name == "plan_rotation" for n in range(62)}


@pytest.mark.parametrize("name", ["launch_week", "small_campaign"])
def test_commands_are_valid_on_the_wire(name: str, request: pytest.FixtureRequest) -> None:
    """Command ids fit the contract; codes are real reference data; new commands have new ids."""
    plan: Plan = request.getfixturevalue(name)
    firsts: set[str] = set()
    for step in plan.steps():
        assert ID.match(step.command_id), step.command_id
        if step.noise is not Noise.RETRIED_COMMAND:
            assert step.command_id not in firsts, step.command_id
            firsts.add(step.command_id)
        body = step.body
        if "province_code" in body:
            assert body["province_code"] in provinces()
        if "commune_code" in body:
            assert communes()[body["commune_code"]].province_code == body["province_code"]
        if step.name == "designate_border_communes":
            assert len(body["commune_codes"]) == 286


def test_truth_adds_up(small_campaign: Plan) -> None:
    """Provinces sum to the campaign; check-ins and no-shows make the dispatches."""
    t = small_campaign.truth
    total = t.of(CAMPAIGN)
    for figure in FIGURES:
        assert sum(t.of(("province", p))[figure] for p in provinces()) == total[figure]
    assert total["check_ins"] + total["no_shows"] == total["dispatches"]
    assert total["activity_reports"] == total["check_ins"]
    regs = [s for s in small_campaign.steps() if s.name == "register_volunteer" and s.noise is None]
    assert len(regs) == total["active_volunteers"] == 1_000
    assert sum(t.teams_by_focus.values()) == total["active_teams"] == 35


def test_reports_respect_the_plausibility_bounds(launch_week: Plan) -> None:
    """Accepted-to-be reports stay within dispatch's per-shift bounds; refused ones exceed them."""
    for step in launch_week.steps():
        if step.name != "report_activity":
            continue
        b = step.body
        within = (
            b["people_supported"] <= 500
            and b["session_attendees"] <= 1_000
            and b["digital_sessions_held"] <= 20
            and b["elderly_attendees"] <= b["session_attendees"]
        )
        assert within == step.expect.accepted, step.command_id


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        build_plan("harvest")


def test_campaign_scale_one_is_about_a_million_events() -> None:
    """Scale 1.0: 100,000 volunteers, 3,500 teams, 3,321 points (checked without building it)."""
    plan = build_plan("campaign", scale=0.1, seed=1)
    total = plan.truth.of(CAMPAIGN)
    assert total["active_volunteers"] == 10_000
    assert total["active_teams"] == 350
    points = sum(p.size for p in plan.phases if p.name == "service points")
    assert points == 332


def _team_of(step: Step) -> str:
    """The team a membership, dispatch or shift command writes (a shift's id names its order)."""
    if "team_id" in step.body:
        return str(step.body["team_id"].key)
    return str(step.body["dispatch_id"].key).rsplit(".", 1)[0]


@pytest.mark.parametrize("phase", ["memberships", "dispatches", "check-ins", "check-outs", "reports"])
def test_concurrent_commands_spread_over_teams(small_campaign: Plan, phase: str) -> None:
    """Commands sent together write different teams: a window of the phase as wide as the number
    of teams holds few of any one team's commands (they would wait on each other's appends), but
    near the end, where only the teams with the most commands have any left."""
    [steps] = [list(p.steps()) for p in small_campaign.phases if p.name == phase]
    dispatched: dict[str, str] = {}  # order key -> team key, from the dispatches phase
    for p in small_campaign.phases:
        if p.name == "dispatches":
            dispatched = {str(s.saves): str(s.body["team_id"].key) for s in p.steps()}
    teams = small_campaign.truth.of(CAMPAIGN)["active_teams"]
    for start in range(0, len(steps) * 3 // 4 - teams, teams):
        window = steps[start : start + teams]
        keys = [_team_of(s) for s in window]
        per_team = Counter(dispatched.get(k, k) for k in keys)
        assert max(per_team.values()) <= 2, (phase, start, per_team.most_common(3))
