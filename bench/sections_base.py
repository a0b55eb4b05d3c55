"""What every section shares: the run context and the targets (issue 14's table)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bench.baselines import Baselines
from bench.stack import SCRATCH, RssWatch

TARGET_REGISTRY = "≥ 60% of bare handler, p99 ≤ 1.5× its p99"
TARGET_DISPATCH = "≥ 75% of bare handler"
TARGET_REBUILD = "≥ 80% of raw pull rate"
TARGET_VISIBLE = "every command answered at the offered rate, p99 ≤ 250 ms"
TARGET_CAMPAIGN = "≤ 300 s on 2 cores, ground truth ok"
TARGET_READ = "≥ 50% of /healthz, p99 ≤ 50 ms"
TARGET_RSS = "< 200 MB per vhub service"
RSS_LIMIT_MB = 200


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
    nats_pid: int | None = None  # the bench's nats-server, whose CPU per command is recorded

    @property
    def logdir(self) -> Path:
        return SCRATCH / "logs"
