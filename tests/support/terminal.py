"""A command run in a pseudo-terminal, as a user's shell runs it (what rich's live displays need
to redraw in place), and its screen output waited on with a deadline: never a sleep."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import termios
from collections.abc import Sequence

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\r")


class Terminal:
    """``async with Terminal([...]) as term: await term.until("text", 30)``."""

    def __init__(self, argv: Sequence[str], *, columns: int = 200, rows: int = 50) -> None:
        self._argv = list(argv)
        self._size = struct.pack("HHHH", rows, columns, 0, 0)
        self.raw = ""  # everything written to the terminal, control sequences included
        self._changed = asyncio.Event()
        self._master = -1
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def text(self) -> str:
        """The output without control sequences."""
        return ANSI.sub("", self.raw)

    async def __aenter__(self) -> Terminal:
        self._master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, self._size)
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "", "LINES": ""}
        env = {k: v for k, v in env.items() if v}
        self.proc = subprocess.Popen(  # noqa: ASYNC220  # returns at once: the child runs on its own
            self._argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        asyncio.get_running_loop().add_reader(self._master, self._read)
        return self

    def _read(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except OSError:  # the child closed the terminal
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self._master)
        self.raw += data.decode("utf-8", errors="replace")
        self._changed.set()

    async def until(self, pattern: str, within: float, *, since: int = 0) -> re.Match[str]:
        """The first match of ``pattern`` in the text written after position ``since`` of
        :attr:`text`; fails with the screen's last lines after ``within`` seconds."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            found = re.search(pattern, self.text[since:])
            if found:
                return found
            left = deadline - asyncio.get_running_loop().time()
            assert left > 0, f"no {pattern!r} within {within}s; last output:\n{self.text[-3000:]}"
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def interrupt(self, within: float = 15.0) -> int:
        """Ctrl-C, as a user stops it; the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        return await asyncio.wait_for(asyncio.to_thread(self.proc.wait), within)

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self._master)
        with contextlib.suppress(OSError):
            os.close(self._master)
