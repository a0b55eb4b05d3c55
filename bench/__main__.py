"""``python -m bench``: baselines and vhub figures in one run, one table, one JSON file.

Examples::

    python -m bench                                 # everything, both durability settings
    python -m bench --only baselines --quick        # a short subset while developing
    python -m bench --only baselines,registry --sync always
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from bench import baselines, report, sections
from bench.peer_rows import versus_peer
from bench.report import Row
from bench.stack import RssWatch, nats_server

SECTIONS = ("baselines", "registry", "dispatch", "visibility", "rebuild", "read_api", "campaign", "peer")
# Reads do not fsync: the read-side sections run once, under the server default when both
# settings are measured; the campaign runs once, under the shipped setting.
ONCE = {"rebuild": "default", "read_api": "default", "campaign": "always", "peer": "always"}
RESULTS = Path(__file__).resolve().parent / "results"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections of {', '.join(SECTIONS)} (baselines always run)",
    )
    p.add_argument("--quick", action="store_true", help="short windows and small data sets")
    p.add_argument(
        "--sync",
        choices=("always", "default", "both"),
        default="both",
        help="nats-server durability: sync_interval always (shipped), default, or both",
    )
    p.add_argument("--seconds", type=float, default=None, help="measuring window per load step")
    p.add_argument(
        "--events",
        type=int,
        default=None,
        help="events for the publish/pull baselines (100,000; --quick 20,000)",
    )
    p.add_argument(
        "--rebuild-events",
        type=int,
        default=None,
        help="events in the rebuild log (default 1,000,000; --quick 50,000)",
    )
    p.add_argument(
        "--campaign-scale",
        type=float,
        default=None,
        help="scale of the campaign scenario (default 1.0; --quick 0.01)",
    )
    p.add_argument(
        "--profile", action="store_true", help="py-spy the processes under test (bench/.scratch/profiles)"
    )
    p.add_argument("--out", type=Path, default=RESULTS, help="where the JSON result goes")
    p.add_argument("--no-write", action="store_true", help="print only, write no JSON")
    return p.parse_args(argv)


async def run_mode(
    sync: str, args: argparse.Namespace, only: set[str], rss: RssWatch, console: Console, modes: list[str]
) -> list[Row]:
    quick = args.quick
    seconds = args.seconds or (2.0 if quick else 8.0)
    events = args.events or (20_000 if quick else 100_000)
    label = f"sync {sync}"
    rows: list[Row] = []
    with nats_server(f"bench-{sync}", sync_always=(sync == "always"), rss=rss) as server:
        console.log(f"{label}: nats-server at {server.url}: measuring baselines")
        base = await baselines.measure(
            server.url, in_flights=[1, 10, 100], seconds=seconds, events=events, rss=rss
        )
        rows += sections.baseline_rows(label, base)
        ctx = sections.Context(
            label=label,
            url=server.url,
            base=base,
            quick=quick,
            seconds=seconds,
            rss=rss,
            console=console,
            rebuild_events=args.rebuild_events or (50_000 if quick else 1_000_000),
            campaign_scale=args.campaign_scale or (0.01 if quick else 1.0),
            profile=args.profile,
            nats_pid=server.process.pid,
        )
        for name in SECTIONS[1:]:
            home = ONCE.get(name)
            if home is not None and home != sync and home in modes:
                continue
            if name in only:
                console.log(f"{label}: {name}")
                rows += await getattr(sections, name)(ctx)
    return rows


async def main_async(args: argparse.Namespace) -> int:
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - set(SECTIONS)
    if unknown:
        console.print(f"[red]unknown sections: {', '.join(sorted(unknown))}")
        return 2
    started = datetime.now(UTC)
    host = report.machine()  # the load average at the start, before we add to it
    modes = ["always", "default"] if args.sync == "both" else [args.sync]
    rss = RssWatch()
    rss.watch("bench client (load generator)", os.getpid())
    rows: list[Row] = []
    try:
        for mode in modes:
            rows += await run_mode(mode, args, only, rss, console, modes)
    finally:
        rss.close()
    rows += versus_peer(rows)
    rows += sections.rss_rows(rss.peaks)
    title = f"vhub bench {started:%Y-%m-%d %H:%M} UTC{' (quick)' if args.quick else ''}"
    report.print_table(rows, title, console)
    report.print_profiles(rows, console)
    if not args.no_write:
        path = report.write_json(rows, args.out, {**vars(args), "out": str(args.out)}, started, host)
        console.print(f"results: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
