"""What holds a service's memory: a tracemalloc report at start and at stop (off by default).

``VHUB_HEAP_PROFILE_DIR=DIR`` makes :func:`shared.hosting.serve` trace Python allocations from
before the app is built (imports are not traced: ``PYTHONTRACEMALLOC`` covers those) and write
``DIR/<service>-<pid>-started.txt`` once the app serves and ``...-stopping.txt`` when it stops:
the resident set size, the traced total, the biggest holders by line and by call stack, and (at
stop) what grew since start. Tracing costs CPU and about a third more memory, so it is a
diagnosis switch, never a production one.
"""

from __future__ import annotations

import os
import resource
import tracemalloc
from pathlib import Path

FRAMES = 4  # the allocating line and its callers: deeper stacks slow a traced service several times
TOP_LINES = 40
TOP_STACKS = 12


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB (Linux: /proc/self/statm)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        current = pages * resource.getpagesize() / 2**20
    except (OSError, IndexError, ValueError):
        current = float("nan")
    return current, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class HeapProfile:
    """Start tracing now; :meth:`write` a report at each point of interest."""

    def __init__(self, directory: Path, name: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._prefix = directory / f"{name}-{os.getpid()}"
        self._first: tracemalloc.Snapshot | None = None
        tracemalloc.start(FRAMES)

    def write(self, label: str) -> Path:
        snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        current, peak = rss_mb()
        traced, traced_peak = tracemalloc.get_traced_memory()
        lines = [
            f"{label}: rss {current:.1f} MB (peak {peak:.1f} MB), traced {traced / 2**20:.1f} MB "
            f"(peak {traced_peak / 2**20:.1f} MB)",
            "",
            "== by line ==",
            *(str(s) for s in snap.statistics("lineno")[:TOP_LINES]),
        ]
        if self._first is not None:
            lines += ["", "== grown since start, by line =="]
            lines += [str(s) for s in snap.compare_to(self._first, "lineno")[:TOP_LINES]]
        lines += ["", "== by call stack =="]
        for stat in snap.statistics("traceback")[:TOP_STACKS]:
            lines += ["", f"{stat.size / 2**20:.1f} MB in {stat.count} blocks", *stat.traceback.format()]
        self._first = self._first or snap
        path = Path(f"{self._prefix}-{label}.txt")
        path.write_text("\n".join(lines) + "\n")
        return path
