"""``vhub simulate``: a seeded campaign generator that drives the services through their public
command subjects and checks its own ground truth against the reporting API.

* :func:`build_plan` (pure): the ordered commands of a scenario and the figures they must produce.
* :func:`run_scenario`: sends a plan with bounded concurrency and progress bars, then compares.
"""

from vhub.simulate.run import Report, run_demo, run_scenario
from vhub.simulate.scenarios import SCENARIOS, build_plan

__all__ = ["SCENARIOS", "Report", "build_plan", "run_demo", "run_scenario"]
