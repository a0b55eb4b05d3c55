"""Request/reply load: N requests in flight for a while, or a fixed offered rate."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import psutil
from nats.aio.client import Client


@dataclass
class LoadResult:
    in_flight: int
    completed: int
    seconds: float
    latencies_ms: list[float]
    refused: int = 0
    errors: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU (user + system) in the window, by process

    def cpu_us_per_cmd(self, *names: str) -> float | None:
        """CPU per answered command of the named processes (all watched when none is named):
        steadier than rates on a shared machine, and what a per-core estimate is made from."""
        picked = [v for k, v in self.cpu_s.items() if not names or k in names]
        if not picked or not self.completed:
            return None
        return sum(picked) * 1e6 / self.completed

    @property
    def rate(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


async def closed_loop(
    nc: Client,
    subject: str,
    payload: Callable[[int], bytes],
    *,
    in_flight: int,
    seconds: float,
    warmup: float = 0.5,
    request_timeout: float = 10.0,
    check: Callable[[bytes], str | None] | None = None,
    cpu_of: Mapping[str, int] | None = None,
) -> LoadResult:
    """``in_flight`` workers, each sending its next request when the last is answered.

    ``check`` returns a refusal code for a reply that was not accepted (counted, not timed as ok).
    ``cpu_of``: the processes (name → pid) whose CPU time in the window is recorded.
    """
    counter = iter(range(10**12))
    latencies: list[float] = []
    result = LoadResult(in_flight, 0, 0.0, latencies)
    measuring = False
    stop_at = time.monotonic() + warmup + seconds

    async def worker() -> None:
        while time.monotonic() < stop_at:
            body = payload(next(counter))
            t0 = time.perf_counter()
            try:
                msg = await nc.request(subject, body, timeout=request_timeout)
            except Exception:
                if measuring:
                    result.errors += 1
                continue
            ms = (time.perf_counter() - t0) * 1000
            if not measuring:
                continue
            code = check(msg.data) if check else None
            if code is not None:
                result.refused += 1
                result.codes[code] = result.codes.get(code, 0) + 1
                continue
            latencies.append(ms)

    tasks = [asyncio.create_task(worker()) for _ in range(in_flight)]
    await asyncio.sleep(warmup)  # a timed warm-up window, not synchronisation
    measuring = True
    t_start = time.perf_counter()
    cpu_start = {name: _cpu_seconds(pid) for name, pid in (cpu_of or {}).items()}
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - t_start
    for name, before in cpu_start.items():
        after = _cpu_seconds((cpu_of or {})[name])
        if before is not None and after is not None:
            result.cpu_s[name] = after - before
    result.completed = len(latencies)
    return result


def _cpu_seconds(pid: int) -> float | None:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)
