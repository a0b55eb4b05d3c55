"""Progress bars for the driver: one per phase, with commands/s, refusals and ETA."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class PhaseProgress:
    """Rich progress when ``show``; otherwise only counts (tests, quiet runs)."""

    def __init__(self, show: bool = True, console: Console | None = None) -> None:
        self._progress: Progress | None = None
        if show:
            self._progress = Progress(
                TextColumn("{task.description:<18}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>7.0f} cmd/s"),
                TextColumn("[red]{task.fields[refused]} refused"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
        self._started: dict[TaskID, float] = {}
        self._done: dict[TaskID, int] = {}
        self._refused: dict[TaskID, int] = {}
        self._next = 0

    def __enter__(self) -> PhaseProgress:
        if self._progress:
            self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress:
            self._progress.stop()

    def start(self, name: str, total: int) -> TaskID:
        if self._progress:
            task = self._progress.add_task(name, total=total, rate=0.0, refused=0)
        else:
            task = TaskID(self._next)
            self._next += 1
        self._started[task] = time.perf_counter()
        self._done[task] = 0
        self._refused[task] = 0
        return task

    def advance(self, task: TaskID, refused: bool) -> None:
        self._done[task] += 1
        self._refused[task] += refused
        if self._progress and (self._done[task] % 50 == 0 or refused):
            self._update(task)

    def _update(self, task: TaskID) -> None:
        assert self._progress is not None
        elapsed = max(time.perf_counter() - self._started[task], 1e-6)
        self._progress.update(
            task, completed=self._done[task], rate=self._done[task] / elapsed, refused=self._refused[task]
        )

    def finish(self, task: TaskID) -> None:
        if self._progress:
            self._update(task)
