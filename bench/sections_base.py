"""What every section shares: the run context and the targets of issue 5."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bench.baselines import Baselines
from bench.stack import SCRATCH, RssWatch

TARGET_REGISTRY = "≥ 50% of bare handler, p99 ≤ 50 ms"
TARGET_REBUILD = "≥ 60% of raw pull rate"
TARGET_VISIBLE = "p99 ≤ 250 ms at 1,000 commands/s"
TARGET_CAMPAIGN = "≤ 300 s on 2 cores"
TARGET_RSS = "< 300 MB per vhub service"


@dataclass
class Context:
    label: str
    url: str
    base: Baselines
    quick: bool
    seconds: float
    rss: RssWatch
    console: Console
    rebuild_events: int
    campaign_scale: float
    profile: bool = False

    @property
    def logdir(self) -> Path:
        return SCRATCH / "logs"
