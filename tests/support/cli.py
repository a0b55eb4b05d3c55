"""The ``vhub`` CLI as a test runs it: a real process, against the test's own NATS and hub."""

from __future__ import annotations

import subprocess
import sys

from shared.settings import Settings


def vhub_dlq(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """``vhub dlq ARGS`` against the settings' NATS server and hub, its output captured."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "vhub.cli",
            "dlq",
            *args,
            "--nats-url",
            settings.nats_url,
            "--hub",
            settings.hub,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
