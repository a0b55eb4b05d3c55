"""``python -m services.reporting [--batch-size N]``: the reporting service."""

from __future__ import annotations

import argparse
import asyncio

from services.reporting.app import run
from shared.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.reporting")
    parser.add_argument("--batch-size", type=int, default=500, help="events per transaction (and per fetch)")
    args = parser.parse_args()
    asyncio.run(run(load_settings(), batch_size=args.batch_size))


if __name__ == "__main__":
    main()
