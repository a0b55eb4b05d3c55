"""What a delivery's reply subject says about its consumer sequence, and how the continuity check
reads a run of them (pure: no server)."""

from __future__ import annotations

from nats.aio.msg import Msg

from shared.delivery import Continuity, consumer_seq

V1 = "$JS.ACK.VHUB_EVT_HN.rb.{dc}.{sseq}.{cseq}.1700000000000000000.5"
V2 = "$JS.ACK.hub.ACCOUNTHASH.VHUB_EVT_HN.rb.{dc}.{sseq}.{cseq}.1700000000000000000.5.x9"


def delivered(cseq: int, sseq: int | None = None, form: str = V1, dc: int = 1) -> Msg:
    reply = form.format(dc=dc, sseq=sseq if sseq is not None else cseq * 3, cseq=cseq)
    return Msg(_client=None, subject="s", reply=reply, data=b"", headers=None)  # type: ignore[arg-type]  # no client needed


def test_the_consumer_sequence_comes_from_either_reply_form() -> None:
    """v1 and v2 replies give the consumer sequence nats-py's metadata gives."""
    for form in (V1, V2, V2.removesuffix(".x9")):
        msg = delivered(77, 1234, form)
        assert consumer_seq(msg) == msg.metadata.sequence.consumer == 77


def test_batches_that_follow_on_are_taken_whatever_their_stream_sequences() -> None:
    """Given a consumer bound at ack floor 4, batches 5..7 and 8 are taken though their stream
    sequences jump (a filtered consumer) and one is a redelivery of an earlier message."""
    line = Continuity()
    line.bind(4)
    assert line.take([delivered(5, 10), delivered(6, 40), delivered(7, 41)]) is None
    assert line.take([delivered(8, 2, dc=2)]) is None
    assert (line.expect, line.missed(8)) == (9, None)


def test_a_hole_before_or_inside_a_batch_is_refused_and_nothing_taken() -> None:
    """Given a fresh binding, a batch starting at 4 (1..3 lost), one with a hole inside, and a
    server that delivered past what arrived are each reported."""
    line = Continuity()
    line.bind()
    assert line.take([delivered(4), delivered(5)]) == "got 4..5 (2), expected 1 next"
    assert line.take([delivered(1), delivered(3)]) is not None
    assert line.expect == 1
    assert line.missed(3) == "delivered up to 3, expected 1 next"
    epoch = line.epoch
    line.bind()
    assert line.epoch == epoch + 1
