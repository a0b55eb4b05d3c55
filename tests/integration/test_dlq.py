"""Dead-letter replay on a real nats-server: exactly once, even when two operators race.

Letters are written by the real writer (shared.deadletter.DeadLetters) into the hub's DLQ stream;
nothing consumes the ingest stream here, so every replayed copy stays there to be counted.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from nats.aio.client import Client

from shared.deadletter import DeadLetters
from shared.envelope import event_subject, ingest_subject
from shared.settings import Settings
from tests.support.cli import vhub_dlq
from vhub.dlq import H_REPLAY_OF, TRUNCATED, DeadLetterStore, ReplayRefused

GOOD_FACT = {"fact_id": "f-1", "dispatch_id": "t1:abc", "people_supported": 4}


async def letter(
    nc: Client, settings: Settings, subject: str, body: bytes, reason: str, seq: int, **headers: str
) -> int:
    """Dead-letter ``body`` as dispatch's ingest does; returns the letter's DLQ sequence."""
    js = nc.jetstream()
    dlq = DeadLetters(js, stream=settings.dlq_stream, hub=settings.hub, source="dispatch_ingest")
    await dlq.send(subject=subject, payload=body, reason=reason, stream_seq=seq, headers=headers or None)
    return int((await js.stream_info(settings.dlq_stream)).state.last_seq)


async def ingest_copies(nc: Client, settings: Settings) -> list[dict[str, str]]:
    """The headers of every message now in the hub's ingest stream."""
    js = nc.jetstream()
    state = (await js.stream_info(settings.ingest_stream)).state
    out = []
    for seq in range(state.first_seq, state.last_seq + 1):
        if state.messages == 0:
            break
        out.append(dict((await js.get_msg(settings.ingest_stream, seq)).headers or {}))
    return out


async def test_two_operators_replaying_one_letter_publish_it_once(nc: Client, provisioned: Settings) -> None:
    """Given one letter, two replays at once: one succeeds, the other is refused; the ingest
    stream holds exactly one copy, marked with the letter it came from; a third replay later is
    refused too."""
    subject = ingest_subject(provisioned.hub, "activity_reported")
    seq = await letter(nc, provisioned, subject, json.dumps(GOOD_FACT).encode(), "not_checked_in: early", 7)
    store = DeadLetterStore(nc.jetstream(), stream=provisioned.dlq_stream, hub=provisioned.hub)
    results = await asyncio.gather(store.replay(seq), store.replay(seq), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["ReplayRefused", "dict"], results
    copies = await ingest_copies(nc, provisioned)
    assert len(copies) == 1
    assert copies[0][H_REPLAY_OF] == f"{provisioned.dlq_stream}:{seq}"
    assert copies[0]["Nats-Msg-Id"] == f"dlq-replay:{provisioned.hub}:{seq}"
    with pytest.raises(ReplayRefused, match="already replayed"):
        await store.replay(seq)
    assert (await store.letter(seq)).state == "replayed"
    assert len(await ingest_copies(nc, provisioned)) == 1


async def test_events_and_truncated_letters_are_never_replayed(nc: Client, provisioned: Settings) -> None:
    """An event stays in the log (rebuild re-reads it); a truncated body cannot be re-submitted."""
    store = DeadLetterStore(nc.jetstream(), stream=provisioned.dlq_stream, hub=provisioned.hub)
    evt = event_subject(provisioned.hub, "registry", "volunteer", "v1")
    event_letter = await letter(nc, provisioned, evt, b"{}", "undecodable envelope: x", 3)
    with pytest.raises(ReplayRefused, match="vhub rebuild"):
        await store.replay(event_letter)
    subject = ingest_subject(provisioned.hub, "activity_reported")
    cut = await letter(
        nc, provisioned, subject, b'{"fact_id": "f-', "too_large: 2 MiB", 4, **{TRUNCATED: "2097152"}
    )
    with pytest.raises(ReplayRefused, match="truncated"):
        await store.replay(cut)
    assert await ingest_copies(nc, provisioned) == []


async def test_replay_all_fixed_takes_only_letters_the_current_code_accepts(
    nc: Client, provisioned: Settings
) -> None:
    """--all-fixed replays a letter refused for its shape whose body now validates, and leaves a
    body that is still invalid, a rule refusal (replayed by SEQ) and an event letter alone."""
    subject = ingest_subject(provisioned.hub, "activity_reported")
    fixed = await letter(
        nc, provisioned, subject, json.dumps(GOOD_FACT).encode(), "invalid_fact: was too strict", 1
    )
    broken = await letter(nc, provisioned, subject, b"{not json", "invalid_fact: body is not JSON", 2)
    rule = await letter(
        nc, provisioned, subject, json.dumps(GOOD_FACT).encode(), "unknown_dispatch: t1:abc", 3
    )
    done = await asyncio.to_thread(vhub_dlq, provisioned, "replay", "--all-fixed")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 replayed" in done.stdout
    for seq in (broken, rule):
        assert f"skipped {seq}:" in done.stdout
    copies = await ingest_copies(nc, provisioned)
    assert [c[H_REPLAY_OF] for c in copies] == [f"{provisioned.dlq_stream}:{fixed}"]
    again = await asyncio.to_thread(vhub_dlq, provisioned, "replay", "--all-fixed")
    assert "0 replayed" in again.stdout  # the replayed one is never taken twice
    assert len(await ingest_copies(nc, provisioned)) == 1

    listed = await asyncio.to_thread(vhub_dlq, provisioned, "list", "--json")
    states = {json.loads(line)["seq"]: json.loads(line)["replay"] for line in listed.stdout.splitlines()}
    assert states == {fixed: "replayed", broken: "new", rule: "new"}
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    later = await asyncio.to_thread(vhub_dlq, provisioned, "list", "--json", "--since", future)
    assert later.stdout.strip() == ""
    table = await asyncio.to_thread(vhub_dlq, provisioned, "list")
    assert "3 dead letters" in table.stdout
    assert "not JSON" in table.stdout
    assert "f-1" not in listed.stdout
    assert '"f-1"' not in table.stdout  # bodies are never listed
