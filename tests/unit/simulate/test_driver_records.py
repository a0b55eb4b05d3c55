"""How the driver reads replies: ids saved for later steps, expectations met or not (no I/O)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from vhub.simulate.driver import Driver, MissingRefError
from vhub.simulate.model import RESENT, Noise, Ref, Step, refuse


def driver() -> Driver:
    return Driver(cast(Any, None))  # no connection: only reply bookkeeping is exercised


def test_rotation_reply_saves_each_dispatch_id() -> None:
    """Given a plan_rotation reply, then each day's dispatch id is saved under key.n."""
    d = driver()
    step = Step("dispatch", "plan_rotation", {}, "c1", saves="rot-1")
    d._record(
        step,
        {
            "accepted": True,
            "aggregate_id": "team-1",
            "version": 9,
            "result": {
                "rotation_id": "r",
                "dispatches": [{"dispatch_id": "team-1:a"}, {"dispatch_id": "team-1:b"}],
            },
        },
    )
    assert d.ids["rot-1.0"] == "team-1:a"
    assert d.ids["rot-1.1"] == "team-1:b"
    assert d.tally.max_version == 9


def test_dispatch_reply_saves_the_dispatch_not_the_schedule() -> None:
    d = driver()
    d._record(
        Step("dispatch", "dispatch_team", {}, "c2", saves="disp-1"),
        {"accepted": True, "aggregate_id": "team-1", "version": 3, "result": {"dispatch_id": "team-1:x"}},
    )
    assert d.ids["disp-1"] == "team-1:x"


def test_refs_resolve_inside_lists_and_fail_loudly_when_missing() -> None:
    d = driver()
    d.ids["p1"] = "point-1"
    assert d.resolve([Ref("p1"), "x"]) == ["point-1", "x"]
    with pytest.raises(MissingRefError):
        d.resolve(Ref("nope"))


def test_expected_refusal_counts_as_noise_seen() -> None:
    """Given a planned double booking, when refused with its code, then it is noise, not a surprise."""
    d = driver()
    step = Step(
        "dispatch", "dispatch_team", {}, "c3", expect=refuse("shift_overlaps"), noise=Noise.DOUBLE_BOOKING
    )
    d._record(step, {"accepted": False, "code": "shift_overlaps", "reason": "overlap"})
    assert d.tally.noise_seen[Noise.DOUBLE_BOOKING] == 1
    assert d.tally.unexpected == 0


def test_resend_must_come_back_as_duplicate() -> None:
    """Given a retried command id, when the reply is not marked duplicate, then it is a surprise."""
    d = driver()
    step = Step("registry", "register_volunteer", {}, "c4", expect=RESENT, noise=Noise.RETRIED_COMMAND)
    d._record(step, {"accepted": True, "aggregate_id": "v", "version": 1, "duplicate": False})
    assert d.tally.unexpected == 1
    assert d.tally.noise_seen[Noise.RETRIED_COMMAND] == 0
