"""Freshness per hub and the positions a reader waits for (services/reporting/hubfresh.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from services.reporting.hubfresh import (
    MIN_POSITION_RE,
    Link,
    Wanted,
    behind,
    hub_freshness,
    parse_min_position,
)

AT = datetime(2025, 7, 10, 5, 0, tzinfo=UTC)


def test_min_position_takes_the_plain_and_the_hub_qualified_forms() -> None:
    """``1234`` is the stream read; ``hcm:1234`` a hub's log; several are comma-separated."""
    assert parse_min_position(None) == Wanted()
    assert parse_min_position("1234") == Wanted(1234)
    assert parse_min_position("hcm:12,hn:7,hcm:30,5") == Wanted(5, {"hcm": 30, "hn": 7})
    for good in ("1", "hcm:1234", "hn:1,hcm:2,9"):
        assert re.match(MIN_POSITION_RE, good), good
    for bad in ("", "x", "hcm:", ":5", "HCM:5", "hcm:5,", "hcm:-1", "h:5", "1e9", "hcm:٧"):
        assert not re.match(MIN_POSITION_RE, bad), bad


def test_behind_names_the_first_position_not_reached() -> None:
    wanted = Wanted(10, {"hcm": 5})
    assert behind(wanted, 9, {"hcm": 5}) == (None, 9, 10)
    assert behind(wanted, 10, {"hcm": 4}) == ("hcm", 4, 5)
    assert behind(wanted, 10, {}) == ("hcm", 0, 5)
    assert behind(wanted, 11, {"hcm": 6}) is None


def test_each_hub_says_its_position_lag_and_source() -> None:
    """Hubs in the hub list's order; lag only when the hub's last sequence is known; a hub with a
    source but no event yet is at 0; a hub with rows but no link is unknown."""
    rows: dict[str, dict[str, Any]] = {
        "hcm": {"position": 40, "last_event_at": AT},
        "zz": {"position": 3, "last_event_at": None},
    }
    links = {
        "hcm": Link("cut_off", AT, None),
        "hn": Link("active", None, 12),
    }
    assert hub_freshness(rows, links) == [
        {
            "hub": "hn",
            "position": 0,
            "last_event_at": None,
            "lag": 12,
            "source": "active",
            "cut_off_since": None,
        },
        {
            "hub": "hcm",
            "position": 40,
            "last_event_at": AT.isoformat(),
            "lag": None,
            "source": "cut_off",
            "cut_off_since": AT.isoformat(),
        },
        {
            "hub": "zz",
            "position": 3,
            "last_event_at": None,
            "lag": None,
            "source": "unknown",
            "cut_off_since": None,
        },
    ]
