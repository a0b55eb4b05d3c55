"""What a JetStream delivery says: its stream sequence and what is still pending (from its reply
subject), and where a sourced copy came from (from its headers).

nats-py's ``msg.metadata`` builds a dataclass and a datetime per message; a projection needs one or
two integers, so they are read straight from the ack subject:
``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`` (v1), or
with ``<domain>.<account hash>`` after ``$JS.ACK`` (v2, 11 or 12 tokens).
"""

from __future__ import annotations

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
