"""``run_scenario``: plan, drive, check, and the report the CLI prints."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import nats
from rich.console import Console
from rich.table import Table

from vhub.simulate import check
from vhub.simulate.driver import Driver, PhaseTime, Route, Tally, plain_route
from vhub.simulate.model import Plan, Truth
from vhub.simulate.progress import PhaseProgress
from vhub.simulate.scenarios import build_plan


@dataclass
class Report:
    scenario: str
    scale: float
    seed: int
    run_id: str
    commands: int
    seconds: float
    tally: Tally
    rows: list[check.Row]
    headlines: dict[str, int] = field(default_factory=dict)
    position: int = 0
    replay: bool = False
    phases: list[PhaseTime] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def rate(self) -> float:
        return self.commands / self.seconds if self.seconds else 0.0

    def table(self) -> Table:
        t = Table(
            title=f"{self.scenario} (scale {self.scale}, seed {self.seed}): "
            f"{self.commands:,} commands in {self.seconds:.1f} s "
            f"({self.rate:,.0f}/s)"
        )
        for col, justify in (
            ("figure", "left"),
            ("expected", "right"),
            ("reported", "right"),
            ("ok", "center"),
            ("note", "left"),
        ):
            t.add_column(col, justify=justify)  # type: ignore[arg-type]  # rich's literal
        for r in self.rows:
            t.add_row(
                r.figure,
                f"{r.expected:,}",
                "—" if r.reported is None else f"{r.reported:,}",
                "[green]ok[/]" if r.ok else "[red]NO[/]",
                r.note,
            )
        return t

    def headline_table(self) -> Table:
        t = Table(title="what the scenario stages (from its plan)")
        t.add_column("headline")
        t.add_column("planned", justify="right")
        for k, v in self.headlines.items():
            t.add_row(k, f"{v:,}")
        return t


async def run_scenario(
    nats_url: str,
    reporting_url: str,
    scenario: str = "launch-week",
    scale: float = 1.0,
    seed: int = 2025,
    concurrency: int = 64,
    *,
    run_id: str | None = None,
    show_progress: bool = True,
    console: Console | None = None,
    wait_s: float = 300.0,
    request_timeout: float = 10.0,
    on_phase: Callable[[str], None] | None = None,
    route: Route = plain_route,
    settled: Callable[[], Awaitable[int]] | None = None,
    more_rows: Callable[[Truth, check.Reading], list[check.Row]] | None = None,
    credentials: tuple[str, str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    answer_deadline: float = 600.0,
) -> Report:
    """Run ``scenario`` against a running stack and check its ground truth.

    Commands go only to ``vhub.cmd.*`` at ``nats_url``; figures are read from the reporting API at
    ``reporting_url`` before and after. ``run_id`` (default: from scenario and seed) prefixes every
    command id; running the same run id twice is a replay, whose commands all come back duplicates.
    Linked hubs (vhub/simulate/hubs.py): ``route`` sends each command to its hub, ``settled`` waits
    until central holds every hub's log and gives the position to read at, ``more_rows`` adds rows.
    A command is resent (same id) until it is answered or ``answer_deadline`` seconds pass;
    ``on_progress(answered, total)`` is told after each command's answer.
    """
    plan: Plan = build_plan(scenario, scale=scale, seed=seed, run_id=run_id)
    run = run_id or f"{scenario.replace('-', '')}{seed}"
    before = await check.read(reporting_url, wait_s=wait_s)
    user, password = credentials or (None, None)
    nc = await nats.connect(nats_url, name="vhub-simulate", user=user, password=password)
    driver = Driver(
        nc,
        concurrency=concurrency,
        correlation_id=f"{run}-{uuid.uuid4().hex[:8]}",
        request_timeout=request_timeout,
        route=route,
        answer_deadline=answer_deadline,
    )
    driver.on_phase = on_phase
    if on_progress is not None:
        driver.on_answered = lambda answered: on_progress(answered, plan.size)
    started = time.perf_counter()
    try:
        with PhaseProgress(show_progress, console) as progress:
            await driver.run(plan, progress)
    finally:
        await nc.drain()
    position = await settled() if settled is not None else driver.tally.max_version
    after = await check.read(reporting_url, position, wait_s=wait_s)
    seconds = time.perf_counter() - started
    t = driver.tally
    replay = driver.replay
    # A replay (same run id again, e.g. a second `make demo` on the same data) records nothing
    # new: the log already holds this run, so the figures are compared as they stand.
    seen = after if replay else after.minus(before)
    first = t.unexpected_samples[0] if t.unexpected_samples else ""
    rows = check.compare(plan.truth, seen, t.noise_seen, t.unexpected, first)
    if more_rows is not None:
        rows[-1:-1] = more_rows(plan.truth, seen)  # before "unexpected replies"
    return Report(
        scenario,
        scale,
        seed,
        run,
        plan.size,
        seconds,
        t,
        rows,
        dict(plan.truth.headlines),
        after.position,
        replay,
        driver.phase_times,
    )


async def run_demo(
    nats_url: str,
    reporting_url: str,
    *,
    seed: int = 2025,
    console: Console | None = None,
    concurrency: int = 64,
) -> bool:
    """``make demo``'s job: the launch week, its figures table; True when every row is ok."""
    console = console or Console()
    report = await run_scenario(
        nats_url, reporting_url, "launch-week", 1.0, seed, concurrency, console=console
    )
    console.print(report.table())
    console.print(report.headline_table())
    if report.replay:
        console.print(
            "[yellow]this run id was already applied to this stack: nothing new was "
            "recorded, and the figures were compared as they stand"
        )
    return report.ok
