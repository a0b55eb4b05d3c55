"""The rows of `vhub status`, from two $SRV.STATS samples (pure: no NATS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.survey import Instance, rows

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def stats(name: str, sid: str, *, requests: int = 0, errors: int = 0, **vhub: Any) -> dict[str, Any]:
    """A STATS answer as shared/discovery.py gives it."""
    return {
        "type": "io.nats.micro.v1.stats_response",
        "name": name,
        "id": sid,
        "version": "0.1.0",
        "started": (NOW - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "metadata": {"hub": "hn", "instance": f"{name}-1"},
        "endpoints": [{"name": "x", "num_requests": requests, "num_errors": errors}],
        "vhub": {"healthy": True, "reasons": [], "consumers": {}, "dead_letters": {}, **vhub},
    }


def test_rates_come_from_the_difference_between_two_samples() -> None:
    """100 more commands over 2 s is 50 commands/s; 1 error in them is 1%."""
    before = [Instance.of(stats("registry", "a", requests=900, errors=0))]
    after = [Instance.of(stats("registry", "a", requests=1000, errors=1))]
    [row] = rows(before, after, 2.0, expected=["registry"], now=NOW)
    assert row.commands_per_s == 50.0
    assert row.error_rate == 0.01
    assert row.healthy
    assert row.uptime_s == 300.0


def test_too_many_errors_make_an_instance_unhealthy_with_the_reason() -> None:
    before = [Instance.of(stats("dispatch", "d", requests=0))]
    after = [Instance.of(stats("dispatch", "d", requests=10, errors=2))]
    [row] = rows(before, after, 1.0, expected=[], max_error_rate=0.05, now=NOW)
    assert not row.healthy
    assert "20% of commands failed" in row.reason


def test_an_instance_that_says_it_is_unhealthy_keeps_its_reasons() -> None:
    sick = stats(
        "reporting",
        "r",
        healthy=False,
        reasons=["not ready: lag=5000"],
        consumers={"reporting": {"lag": 5000}},
    )
    [row] = rows([], [Instance.of(sick)], 1.0, expected=[], now=NOW)
    assert not row.healthy
    assert row.reason == "not ready: lag=5000"
    assert row.lag == 5000
    assert row.commands_per_s is None  # no earlier sample of this instance


def test_an_expected_service_without_an_instance_and_one_that_went_away_are_rows() -> None:
    """registry@hcm has no instance; dispatch answered the first sample, not the second."""
    before = [Instance.of(stats("dispatch", "gone")), Instance.of(stats("registry", "a"))]
    after = [Instance.of(stats("registry", "a"))]
    out = rows(before, after, 1.0, expected=["registry", "registry@hcm", "dispatch"], now=NOW)
    by = {(r.service, r.hub, r.id): r for r in out}
    assert by[("registry", "hn", "a")].healthy
    assert by[("registry", "hcm", "-")].reason == "no instance answers"
    assert by[("dispatch", "hn", "gone")].reason == "stopped answering $SRV.STATS"
    assert by[("dispatch", "-", "-")].reason == "no instance answers"
    assert sum(not r.healthy for r in out) == 3
