"""Compact snapshots answer a retried command exactly as the plain ones: same sequences, types, ids."""

from __future__ import annotations

from services.dispatch.snapshots import CompactIndex
from shared.aggregates import EventRef
from shared.envelope import derive_id

HUB, TEAM = "hcm", "t1"


def ref(command_id: str, n: int, seq: int, event_type: str = "dispatch.team_dispatched") -> EventRef:
    return EventRef(seq, event_type, derive_id(HUB, command_id, TEAM, str(n)))


def test_derived_ids_are_packed_and_given_back_exactly() -> None:
    """One-event and several-event commands come back as the same EventRefs, in order."""
    rotation = (ref("c1", 0, 10), ref("c1", 1, 11), ref("c1", 2, 12))
    check_in = (ref("c2", 0, 40, "dispatch.team_checked_in"),)
    index = CompactIndex(HUB, TEAM).with_commands({"c1": rotation, "c2": check_in}, append=False)
    assert index["c1"] == rotation
    assert index.get("c2") == check_in
    assert "c1" in index
    assert "c3" not in index
    assert index.get("c3", ()) == ()
    assert sorted(index) == ["c1", "c2"]
    assert len(index) == 2
    assert isinstance(index._packed["c2"], int)  # one int for a one-event command


def test_an_id_made_another_way_is_kept_as_it_is() -> None:
    """Events whose id is not the derived one (written by something else) keep their refs whole."""
    odd = (EventRef(7, "dispatch.team_dispatched", "not-derived"),)
    index = CompactIndex(HUB, TEAM).with_commands({"x": odd}, append=False)
    assert index["x"] == odd
    assert index._packed["x"] == odd


def test_appending_continues_a_command_and_copies_leave_the_original_alone() -> None:
    """``append`` puts new events after the ones the command has; the index itself is immutable."""
    first = CompactIndex(HUB, TEAM).with_commands({"c1": (ref("c1", 0, 5),)}, append=False)
    second = first.with_commands({"c1": (ref("c1", 1, 6),), "c2": (ref("c2", 0, 9),)}, append=True)
    assert second["c1"] == (ref("c1", 0, 5), ref("c1", 1, 6))
    assert first["c1"] == (ref("c1", 0, 5),)
    assert "c2" not in first
    replaced = second.with_commands({"c1": (ref("c1", 0, 20),)}, append=False)
    assert replaced["c1"] == (ref("c1", 0, 20),)
