"""What a JetStream delivery says: its stream and consumer sequences and what is still pending (from
its reply subject), and where a sourced copy came from (from its headers).

nats-py's ``msg.metadata`` builds a dataclass and a datetime per message; a projection needs one or
two integers, so they are read straight from the ack subject:
``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`` (v1), or
with ``<domain>.<account hash>`` after ``$JS.ACK`` (v2, 11 or 12 tokens).
"""

from __future__ import annotations

from collections.abc import Sequence

from nats.aio.msg import Msg


def stream_seq(msg: Msg) -> int:
    """The message's stream sequence, from its JetStream reply subject."""
    reply = msg.reply
    if reply and reply.startswith("$JS.ACK."):
        tokens = reply.split(".", 9)
        if reply.count(".") == 8:
            return int(tokens[5])
        if len(tokens) >= 10:
            return int(tokens[7])
    return int(msg.metadata.sequence.stream)  # raises NotJSMessageError, as before


def consumer_seq(msg: Msg) -> int:
    """The message's consumer (delivery) sequence, from its JetStream reply subject: one more for
    every delivery of the consumer, redeliveries included (see :mod:`shared.consumer`)."""
    reply = msg.reply
    if reply and reply.startswith("$JS.ACK."):
        tokens = reply.split(".", 10)
        if reply.count(".") == 8:
            return int(tokens[6])
        if len(tokens) >= 11:
            return int(tokens[8])
    return int(msg.metadata.sequence.consumer)  # raises NotJSMessageError


def pending_after(msg: Msg) -> int:
    """How many messages the consumer still had to deliver after ``msg`` (from its reply subject)."""
    reply = msg.reply or ""
    dots = reply.count(".")
    if dots == 8:  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<time>.<pending>
        return int(reply[reply.rfind(".") + 1 :])
    if dots >= 10:  # $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<dlv>.<sseq>.<cseq>.<time>.<pending>[.x]
        return int(reply.split(".")[10])
    return int(msg.metadata.num_pending or 0)


H_STREAM_SOURCE = "Nats-Stream-Source"  # the server's, on every message a stream sources


def origin(msg: Msg) -> tuple[str, int] | None:
    """Where a sourced copy came from: the origin stream's name and the message's sequence there
    (``Nats-Stream-Source: <stream>[:<hash>] <seq> …``); None for a message written to this stream
    itself (or a header that does not parse)."""
    headers = msg.headers
    value = headers.get(H_STREAM_SOURCE) if headers else None
    if not value:
        return None
    name, _, rest = value.partition(" ")
    seq = rest.partition(" ")[0]
    if not seq.isascii() or not seq.isdigit():
        return None
    return name.partition(":")[0], int(seq)


class Continuity:
    """Whether a consumer's deliveries all reached its one reader, by their consumer sequences.

    Verified on nats-server 2.15.1, the consumer sequence (:func:`consumer_seq`):

    * counts this consumer's deliveries, 1, 2, 3 …, whatever its filters (several included), so a
      filtered consumer's gaps in stream sequences do not show in it;
    * gives a redelivery (nak, ack wait expired) a NEW consumer sequence (``num_delivered`` counts
      that message's deliveries), so a delivery lost with a dropped link leaves a hole for good;
    * starts again at 1 when the consumer is created, recreated or reset (``CONSUMER.RESET``; the
      reset reply's ``delivered`` was once seen stale, so it is not read);
    * is kept across a client reconnect (server state); after a nats-server SIGKILL it goes on from
      the consumer state last written, which may be older than what was delivered: the same stream
      messages then come again under the same consumer sequences (or, when it was written, what is
      outstanding waits for the ack wait and new messages follow under the next sequences);
    * with AckPolicy.EXPLICIT later acks do not cover a lost delivery: it comes again after
      ``ack_wait``; with AckPolicy.ALL the next ack takes it along.

    So the first delivery after binding must carry ``ack floor + 1`` (a dead predecessor's
    outstanding deliveries are holes too; created or reset: 1), and each batch must go on from the
    last one without a hole. ``epoch`` counts the bindings.
    """

    __slots__ = ("epoch", "expect")

    def __init__(self) -> None:
        self.expect = 0  # the consumer sequence the next delivery must carry (0: not bound yet)
        self.epoch = 0

    def bind(self, ack_floor: int = 0) -> None:
        """The consumer was bound at this ack floor (consumer sequence; 0: created or reset)."""
        self.expect = ack_floor + 1
        self.epoch += 1

    def take(self, msgs: Sequence[Msg]) -> str | None:
        """Take a batch in (None) or say why it does not follow on (nothing is taken then)."""
        first, last = consumer_seq(msgs[0]), consumer_seq(msgs[-1])
        if first != self.expect or last - first != len(msgs) - 1:  # in order, so: no hole inside
            return f"got {first}..{last} ({len(msgs)}), expected {self.expect} next"
        self.expect = last + 1
        return None

    def missed(self, delivered: int) -> str | None:
        """Given the server's last delivered consumer sequence: why some never reached us, or None."""
        if delivered >= self.expect:
            return f"delivered up to {delivered}, expected {self.expect} next"
        return None
