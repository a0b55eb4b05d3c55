"""Optional py-spy profiles of the processes under test (``--profile``): a speedscope file each, and
the frames of our own code that take the most time, for the rows whose targets are missed."""

from __future__ import annotations

import collections
import contextlib
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.stack import SCRATCH

OURS = ("/services/", "/shared/", "/vhub/")


def py_spy() -> str | None:
    exe = Path(sys.executable).parent / "py-spy"
    return str(exe) if exe.exists() else shutil.which("py-spy")


@contextlib.asynccontextmanager
async def profiled(enabled: bool, name: str, pid: int, out: dict[str, Any]) -> AsyncIterator[None]:
    """Record ``pid`` while the body runs; put a summary in ``out["profile"]``."""
    exe = py_spy() if enabled else None
    if exe is None:
        yield
        return
    target = SCRATCH / "profiles" / f"{name}-{pid}.speedscope.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    spy = subprocess.Popen(  # noqa: ASYNC220 - started once around a measurement
        [exe, "record", "-p", str(pid), "-f", "speedscope", "-o", str(target), "-r", "200"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()
        if target.exists() and target.stat().st_size:
            summary = summarise(target, pid)
            busy = summary["samples_s"] / elapsed if elapsed else 0.0
            out["profile"] = {"file": str(target), "busy_share": round(busy, 2), **summary}


def summarise(path: Path, pid: int, top: int = 8) -> dict[str, Any]:
    """How busy the event-loop thread was, and its frames (ours first) with the most time."""
    doc = json.loads(path.read_text())
    frames = doc["shared"]["frames"]
    inclusive: collections.Counter[int] = collections.Counter()
    own: collections.Counter[int] = collections.Counter()
    total = 0.0
    others = 0.0
    for prof in doc["profiles"]:
        name = str(prof.get("name", ""))
        if not name.startswith(f"Thread {pid} "):  # the main thread runs the event loop; others apart
            others += sum(w for smp, w in zip(prof["samples"], prof["weights"], strict=True) if smp)
            continue
        for sample, weight in zip(prof["samples"], prof["weights"], strict=True):
            if not sample:
                continue
            total += weight
            for f in set(sample):
                inclusive[f] += weight
            own[sample[-1]] += weight

    def label(i: int) -> str:
        f = frames[i]
        where = str(f.get("file", "")).split("/work/main/")[-1].split("site-packages/")[-1]
        return f"{f['name']} ({where}:{f.get('line')})"

    def ours(i: int) -> bool:
        return any(part in str(frames[i].get("file", "")) for part in OURS)

    if not total:
        return {
            "samples_s": 0.0,
            "other_threads_s": round(others, 2),
            "top_inclusive_ours": {},
            "top_self": {},
        }
    share = {label(i): round(w / total, 3) for i, w in inclusive.most_common() if ours(i)}
    return {
        "samples_s": round(total, 2),  # time the event-loop thread was seen busy
        "other_threads_s": round(others, 2),  # e.g. aiosqlite's worker threads
        "top_inclusive_ours": dict(list(share.items())[:top]),
        "top_self": {label(i): round(w / total, 3) for i, w in own.most_common(top)},
    }
