"""The replay's one I/O step: connect, read the log, disconnect; the rest is pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import nats

from vhub.whatif.log import read_history
from vhub.whatif.table import Comparison, compare


async def replay_dispatch(
    nats_url: str,
    stream: str,
    hub: str,
    start: date,
    end: date,
    rules: Sequence[str],
    *,
    user: str | None = None,
    password: str | None = None,
) -> Comparison:
    """What happened from ``start`` to ``end`` beside each rule, from the log of ``stream``."""
    nc = await nats.connect(nats_url, name="vhub-replay-dispatch", user=user, password=password)
    try:
        history = await read_history(nc, stream, hub)
    finally:
        await nc.close()
    return compare(history, start, end, rules)
