"""The scenarios: ``launch-week`` (1–6 July 2025, as reported) and ``campaign`` (July–August).

Both are pure: the same (scenario, scale, seed, run id) always gives the same plan and truth.
Volunteer figures are counted where the volunteer lives, team figures where the team is based, and
field figures (dispatches, check-ins, people supported …) where the service point is.
"""

from __future__ import annotations

from vhub.simulate.campaign import campaign
from vhub.simulate.launch_week import launch_week
from vhub.simulate.model import Plan

SCENARIOS = ("launch-week", "campaign")


def build_plan(scenario: str, *, scale: float = 1.0, seed: int = 2025, run_id: str | None = None) -> Plan:
    """The plan of ``scenario``. ``run_id`` prefixes every command id and picks the phones."""
    run = run_id or f"{scenario.replace('-', '')}{seed}"
    if scenario == "launch-week":
        return launch_week(seed, run)
    if scenario == "campaign":
        return campaign(scale, seed, run)
    raise ValueError(f"unknown scenario {scenario!r}: one of {', '.join(SCENARIOS)}")
