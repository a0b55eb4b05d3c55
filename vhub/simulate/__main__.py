"""``python -m vhub.simulate``: run a scenario against a running stack (``vhub dev``) and check it.

Example: ``python -m vhub.simulate --nats-url nats://127.0.0.1:4222 \
--reporting-url http://127.0.0.1:8082 --scenario campaign --scale 0.01``
"""

from __future__ import annotations

import argparse
import asyncio

from rich.console import Console

from vhub.simulate.run import run_scenario
from vhub.simulate.scenarios import SCENARIOS


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vhub.simulate", description=__doc__)
    p.add_argument("--nats-url", required=True)
    p.add_argument("--reporting-url", required=True)
    p.add_argument("--scenario", choices=SCENARIOS, default="launch-week")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--run-id", default=None, help="prefix of every command id (default: seeded)")
    args = p.parse_args(argv)
    console = Console()
    report = asyncio.run(
        run_scenario(
            args.nats_url,
            args.reporting_url,
            args.scenario,
            args.scale,
            args.seed,
            args.concurrency,
            run_id=args.run_id,
            console=console,
        )
    )
    console.print(report.table())
    if report.headlines:
        console.print(report.headline_table())
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
