"""The clock dispatch decides with, chosen by ``VHUB_CLOCK``, built once by the composition root.

Times in commands (check-in, check-out) are given by the caller and checked against this clock:
never later than ``now + VHUB_CLOCK_SKEW_S``; ``close_day`` refuses a date after today. Nothing else
depends on now, so dispatching past campaign days works with any clock.

* ``system`` (default): the real time.
* ``2025-07-06T18:00:00+07:00``: a fixed instant, for replays and tests that pin "now".
* ``running:2025-07-06T08:00:00+07:00``: starts at that instant when the process starts and runs
  at real speed: a simulation of a campaign day, in real time.

Tests may also hand the app a :class:`ManualClock` (set and advanced by the test itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from shared.envelope import utcnow

Clock = Callable[[], datetime]


def _aware(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError(f"VHUB_CLOCK needs a time zone: {text!r}")
    return at


def clock_from_setting(value: str) -> Clock:
    """Parse ``VHUB_CLOCK``; a malformed value fails the start, not a command."""
    value = value.strip()
    if value in ("", "system"):
        return utcnow
    if value.startswith("running:"):
        origin = _aware(value.removeprefix("running:"))
        started = time.monotonic()
        return lambda: origin + timedelta(seconds=time.monotonic() - started)
    fixed = _aware(value)
    return lambda: fixed


class ManualClock:
    """A clock a test or a simulator moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by
