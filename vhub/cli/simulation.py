"""``vhub simulate``: a seeded campaign against a running stack, checked against its ground truth."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from vhub.cli.app import NatsUrl, app, console, nats_url_or_default, read_ready_file


@app.command()
def simulate(
    scenario: Annotated[str, typer.Option(help="launch-week or campaign")] = "launch-week",
    scale: Annotated[float, typer.Option(help="campaign size (1.0 ≈ 100,000 volunteers)")] = 1.0,
    seed: int = 2025,
    concurrency: Annotated[int, typer.Option(help="commands in flight")] = 64,
    ready_file: Annotated[Path | None, typer.Option(help="The ready file of `vhub dev`.")] = None,
    nats_url: NatsUrl = None,
    reporting_url: Annotated[str | None, typer.Option(help="Reporting API base URL.")] = None,
    run_id: Annotated[str | None, typer.Option(help="Prefix of every command id (default: seeded).")] = None,
) -> None:
    """Drive a running stack with a seeded campaign through the public commands, then check
    every figure the reporting API gives against the simulator's own ground truth."""
    from vhub.simulate import SCENARIOS, run_scenario

    if scenario not in SCENARIOS:
        raise typer.BadParameter(f"scenario must be one of {', '.join(SCENARIOS)}")
    if ready_file is not None:
        info = read_ready_file(ready_file)
        nats_url = nats_url or info["nats_url"]
        reporting_url = reporting_url or info["services"].get("reporting")
    if not reporting_url:
        raise typer.BadParameter("give --ready-file or --reporting-url")
    report = asyncio.run(
        run_scenario(
            nats_url_or_default(nats_url),
            reporting_url,
            scenario,
            scale,
            seed,
            concurrency,
            run_id=run_id,
            console=console,
        )
    )
    console.print(report.table())
    if report.headlines:
        console.print(report.headline_table())
    if not report.ok:
        raise typer.Exit(1)
