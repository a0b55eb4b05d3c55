"""National duplicates (services/reporting/national.py): a key held at two hubs is one pair, the
first recorded counts, a withdrawal resolves it, a release frees the key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.reporting.national import Fact, NationalIndex
from shared.envelope import Envelope
from shared.events import Event
from shared.events.registry import PhoneClaimed, PhoneReleased, VolunteerRegistered, VolunteerWithdrawn
from shared.projection import Batch

T0 = datetime(2025, 7, 10, 8, 0, tzinfo=UTC)


def fact(hub: str, aggregate_id: str, event: Event, minutes: int = 0) -> Fact:
    env = Envelope(
        event_id=f"e-{hub}-{aggregate_id}-{minutes}",
        event_type=event.event_type,
        schema_version=event.schema_version,
        aggregate_id=aggregate_id,
        hub=hub,
        occurred_at=T0,
        recorded_at=T0 + timedelta(minutes=minutes),
        command_id="c",
        correlation_id="c",
        data=event.model_dump(mode="json"),
    )
    return env, event


async def fold(*facts: Fact) -> NationalIndex:
    index = NationalIndex()
    await index.apply(Batch(list(facts), last_seq=len(facts), pending=0))
    return index


async def test_the_same_key_at_two_hubs_is_one_pair_and_the_first_recorded_counts() -> None:
    index = await fold(
        fact("hcm", "k1", PhoneClaimed(volunteer_id="hcm-v"), minutes=1),
        fact("hn", "k1", PhoneClaimed(volunteer_id="hn-v"), minutes=5),
        fact("hn", "k2", PhoneClaimed(volunteer_id="hn-w")),
    )
    [pair] = index.pairs()
    assert (pair.counted.hub, pair.counted.volunteer_id) == ("hcm", "hcm-v")
    assert (pair.duplicate.hub, pair.duplicate.volunteer_id) == ("hn", "hn-v")
    assert (pair.kind, pair.resolved) == ("phone", False)
    assert "k1" not in pair.pair_id
    assert index.position == 3


async def test_a_withdrawal_resolves_the_pair_and_a_released_phone_pairs_no_more() -> None:
    claims = [
        fact("hcm", "k1", PhoneClaimed(volunteer_id="hcm-v")),
        fact("hn", "k1", PhoneClaimed(volunteer_id="hn-v"), minutes=1),
    ]
    withdrawn = await fold(*claims, fact("hn", "hn-v", VolunteerWithdrawn(volunteer_id="hn-v", reason="dup")))
    assert [p.resolved for p in withdrawn.pairs()] == [True]
    released = await fold(*claims, fact("hn", "k1", PhoneReleased(volunteer_id="hn-v"), minutes=2))
    assert released.pairs() == []


async def test_the_same_phone_twice_at_one_hub_is_no_national_pair() -> None:
    """Within a hub the claim subject keeps a phone unique: central pairs across hubs only."""
    index = await fold(
        fact("hn", "k1", PhoneClaimed(volunteer_id="a")), fact("hn", "k1", PhoneClaimed(volunteer_id="b"))
    )
    assert index.pairs() == []


def registered(volunteer_id: str, identity: str) -> VolunteerRegistered:
    return VolunteerRegistered(
        volunteer_id=volunteer_id,
        province_code="01",
        commune_code="00004",
        affiliation="youth_union",
        skills=[],
        identity_pseudonym=identity,
    )


async def test_two_registrations_matched_by_phone_and_by_name_are_one_pair() -> None:
    """The same two registrations found by the phone and by name + birth date are listed once."""
    index = await fold(
        fact("hn", "k1", PhoneClaimed(volunteer_id="hn-v")),
        fact("hn", "hn-v", registered("hn-v", "i1")),
        fact("hcm", "k1", PhoneClaimed(volunteer_id="hcm-v"), minutes=1),
        fact("hcm", "hcm-v", registered("hcm-v", "i1"), minutes=1),
    )
    [pair] = index.pairs()
    assert (pair.kind, pair.counted.volunteer_id, pair.duplicate.volunteer_id) == ("phone", "hn-v", "hcm-v")


def test_the_feed_reads_what_it_indexes_as_the_general_path_does() -> None:
    """A withdrawal takes the typed pass (services/reporting/decoding.py), a phone claim the
    general path: either way the same envelope fields and event as read_envelope + read_event."""
    from services.reporting.decoding import typed_event
    from services.reporting.national import decode
    from shared.upcast import read_envelope, read_event

    for env, _ in (
        fact("hn", "hn-v", VolunteerWithdrawn(volunteer_id="hn-v", reason="dup")),
        fact("hn", "k1", PhoneClaimed(volunteer_id="hn-v")),
    ):
        raw = env.to_bytes()
        (got_env, got_event), reason = decode(3, raw)  # type: ignore[misc]  # a fact, not None
        want_env = read_envelope(raw)
        assert reason is None
        assert got_event == read_event(want_env)
        assert (got_env.aggregate_id, got_env.hub, got_env.recorded_at) == (
            want_env.aggregate_id,
            want_env.hub,
            want_env.recorded_at,
        )
    assert typed_event(fact("hn", "v", VolunteerWithdrawn(volunteer_id="v", reason="x"))[0].to_bytes())
