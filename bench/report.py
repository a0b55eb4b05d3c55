"""Rows of the benchmark table: a figure, its baseline, their ratio and the target it answers to."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

NOT_YET_BUILT = "not yet built"


@dataclass
class Row:
    """One measured figure. ``value`` is None when the thing measured does not exist (yet)."""

    section: str
    figure: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    p50_ms: float | None = None
    p99_ms: float | None = None
    status: str = ""  # "not yet built", "failed: ...", or "" when measured
    higher_is_better: bool = True
    met: bool | None = None  # whether the target is met, when there is one and it was measured
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline


def missing(section: str, figure: str, unit: str, target: str = "", why: str = NOT_YET_BUILT) -> Row:
    """A row for a figure that cannot be measured: printed as such, never as a number."""
    return Row(section, figure, None, unit, target=target, status=why)


def _num(v: float | None, unit: str = "") -> str:
    if v is None:
        return "—"
    if unit == "ratio":
        return f"{v:.0%}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def render(rows: list[Row], title: str) -> Table:
    table = Table(title=title, show_lines=False)
    for col, justify in (
        ("section", "left"),
        ("figure", "left"),
        ("value", "right"),
        ("p50 ms", "right"),
        ("p99 ms", "right"),
        ("baseline", "right"),
        ("ratio", "right"),
        ("target", "left"),
        ("met", "center"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]  # rich's literal type
    for r in rows:
        value = r.status if r.value is None else f"{_num(r.value)} {r.unit}"
        baseline = "" if r.baseline is None else f"{_num(r.baseline)} ({r.baseline_name})"
        met = "" if r.met is None else ("[green]yes[/]" if r.met else "[red]no[/]")
        table.add_row(
            r.section,
            r.figure,
            value,
            _num(r.p50_ms),
            _num(r.p99_ms),
            baseline,
            _num(r.ratio, "ratio") if r.ratio is not None else "",
            r.target,
            met,
        )
    return table


def machine() -> dict[str, Any]:
    import psutil

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_at_start": os.getloadavg(),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_json(
    rows: list[Row], out_dir: Path, options: dict[str, Any], started: datetime, host: dict[str, Any]
) -> Path:
    """``host``: :func:`machine` as it was when the run began."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{started.strftime('%Y-%m-%dT%H%M%SZ')}.json"
    body = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "load_avg_at_end": os.getloadavg(),
        "machine": host,
        "options": options,
        "rows": [{**asdict(r), "ratio": r.ratio} for r in rows],
    }
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
    return path


def print_table(rows: list[Row], title: str, console: Console | None = None) -> None:
    (console or Console()).print(render(rows, title))


def print_profiles(rows: list[Row], console: Console) -> None:
    """Where the time went in the processes profiled (``--profile``), our own frames first."""
    for r in rows:
        for key, prof in r.extra.items():  # "profile", or "profile_<process>" for several
            if not (key == "profile" or key.startswith("profile_")) or not prof:
                continue
            busy = f"event loop busy {prof['busy_share']:.0%} of the window"
            console.print(f"[bold]{r.section}: {r.figure}[/] — {busy}, {prof['file']}")
            for frame, share in list(prof["top_inclusive_ours"].items())[:6]:
                console.print(f"    {share:6.1%}  {frame}")
