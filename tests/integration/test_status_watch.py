"""``vhub status --watch`` on a real stack, in a terminal: it redraws its table in place as an
instance goes (the stack and nats-server of tests/integration/test_discovery.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from shared.natsserver import NatsServer
from tests.integration.test_discovery import HUB, running, server  # noqa: F401  # server: a fixture
from tests.support.terminal import Terminal


async def test_vhub_status_watch_redraws_in_place_as_an_instance_goes(
    server: NatsServer,  # noqa: F811  # the fixture imported above
    tmp_path: Path,
) -> None:
    """`vhub status --watch` in a terminal: the table shows every service healthy, then, without a
    restart, the same table redrawn in place (cursor moved back over it) says the registry has no
    instance once it is stopped; Ctrl-C ends it with exit code 1, the last table being unhealthy."""
    expect = [a for svc in ("registry", "dispatch", "reporting") for a in ("--expect", f"{svc}@{HUB}")]
    argv = [sys.executable, "-m", "vhub.cli", "status", "--watch", "--nats-url", server.url]
    async with running(server, tmp_path) as stack, Terminal([*argv, "--interval", "0.2", *expect]) as term:
        await term.until(r"3 healthy, 0 unhealthy", 60)
        drawn = term.raw.count("vhub status (")
        await term.until(r"3 healthy, 0 unhealthy", 30, since=len(term.text))  # redrawn, still healthy
        assert term.raw.count("vhub status (") > drawn
        assert "\x1b[1A" in term.raw or "\x1b[2K" in term.raw  # redrawn over itself, not appended
        await stack.stop("registry")
        start = len(term.text)
        await term.until(r"2 healthy, 1 unhealthy", 30, since=start)
        await term.until(r"registry .*UNHEALTHY: no instance answers", 5, since=start)
        assert await term.interrupt() == 1
    assert "Traceback" not in term.text, term.text[-3000:]
