"""Supervision of the embedded stack's processes (``vhub dev``): a child that dies is restarted.

One watcher thread per child blocks in ``wait()`` (no polling), so a death is seen at once. Unless
the stack is stopping, the death is logged (structlog: ``process_exited`` with its exit code) and
the child is started again after a back-off that doubles with each quick death (0.5 s, 1 s, 2 s ...
up to 30 s) and starts over once a child has lived ``stable_s``. Only :meth:`Supervisor.stop` (the
stack's Ctrl-C/SIGTERM) ends supervision.

Every change is written to a status file (JSON, replaced atomically) that ``vhub status`` reads::

    {"updated": iso, "processes": {name: {"state": "running" | "restarting" | "stopped",
     "pid": int | null, "restarts": int, "last_exit": int | null, "since": iso}}}
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)
Starter = Callable[[], "subprocess.Popen[bytes]"]


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class ChildState:
    state: str = "running"
    pid: int | None = None
    restarts: int = 0
    last_exit: int | None = None
    since: str = field(default_factory=_now)


class Supervisor:
    """Watches children; restarts the dead ones with back-off until :meth:`stop`."""

    def __init__(
        self,
        status_path: Path,
        *,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        stable_s: float = 60.0,
    ) -> None:
        self.status_path = status_path
        self._backoff = backoff_s
        self._max_backoff = max_backoff_s
        self._stable = stable_s
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # one change at a time; stop() never races a restart
        self._states: dict[str, ChildState] = {}
        self._threads: list[threading.Thread] = []

    def watch(self, name: str, proc: subprocess.Popen[bytes], start: Starter) -> None:
        """Supervise ``proc`` (already started); ``start`` starts a replacement."""
        with self._lock:
            self._states[name] = ChildState(pid=proc.pid)
            self._write()
        thread = threading.Thread(
            target=self._run, args=(name, proc, start), name=f"watch-{name}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def state(self, name: str) -> ChildState:
        with self._lock:
            return ChildState(**asdict(self._states[name]))

    def stop(self) -> None:
        """No more restarts (call before stopping the children). Thread-safe, idempotent."""
        with self._lock:
            self._stopping.set()
            for state in self._states.values():
                state.state, state.since = "stopped", _now()
            self._write()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _run(self, name: str, proc: subprocess.Popen[bytes], start: Starter) -> None:
        quick_deaths = 0
        while True:
            started = time.monotonic()
            code: int | None = proc.wait()
            while True:  # until a replacement runs (a start may fail: the port still taken, ...)
                if self._stopping.is_set():
                    return
                quick_deaths = 1 if time.monotonic() - started >= self._stable else quick_deaths + 1
                delay = min(self._max_backoff, self._backoff * 2 ** (quick_deaths - 1))
                with self._lock:
                    state = self._states[name]
                    state.state, state.pid, state.last_exit, state.since = "restarting", None, code, _now()
                    self._write()
                log.warning(
                    "process_exited",
                    process=name,
                    exit_code=code,
                    restarts=state.restarts,
                    restart_in_s=delay,
                )
                if self._stopping.wait(delay):  # the back-off; wakes at once when the stack stops
                    return
                try:
                    with self._lock:
                        if self._stopping.is_set():
                            return
                        proc = start()
                        state.state, state.pid, state.since = "running", proc.pid, _now()
                        state.restarts += 1
                        self._write()
                    break
                except Exception:
                    log.exception("process_restart_failed", process=name)
                    started, code = time.monotonic(), None
            log.warning("process_restarted", process=name, pid=proc.pid, restarts=state.restarts)

    def _write(self) -> None:
        body = {"updated": _now(), "processes": {n: asdict(s) for n, s in self._states.items()}}
        tmp = self.status_path.with_suffix(self.status_path.suffix + ".tmp")
        tmp.write_text(json.dumps(body, indent=2))
        tmp.replace(self.status_path)  # readers never see half a file
